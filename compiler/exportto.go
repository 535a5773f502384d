package compiler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// checkVirtualServiceExportTo accepts exportTo on the http rules, which are served to each
// proxy by its namespace (--namespace), and refuses it where the proxy's namespace is not
// consulted yet: tcp and tls routes become a gateway's listeners, not its routes.
func (b *builder) checkVirtualServiceExportTo(d *schema.Document, vs *schema.VirtualService) {
	if schema.ExportedTo(d.Namespace, vs.ExportTo) != nil && (len(vs.TCP) > 0 || len(vs.TLS) > 0) {
		b.unsupportedf(d, "spec.exportTo", "tcp and tls routes are served to every gateway proxy whatever its namespace; exportTo narrower than \"*\" applies to http rules only")
	}
}

// exportedTo is the namespaces whose proxies see a service (its ServiceEntry's exportTo, "."
// resolved): nil for every namespace, ["~"] for none.
func (s *service) exportedTo() []string {
	return schema.ExportedTo(s.doc.Namespace, s.entry.ExportTo)
}

// exportedNowhere reports a ServiceEntry exported to "~": no proxy sees it.
func exportedNowhere(exported []string) bool {
	return len(exported) == 1 && exported[0] == "~"
}

// checkServiceEntryExportTo warns of a ServiceEntry no proxy sees: signalbox compiles its
// clusters but routes its hosts on no sidecar, as Istio makes it visible to no proxy.
func (b *builder) checkServiceEntryExportTo(d *schema.Document, se *schema.ServiceEntry) {
	if exportedNowhere(schema.ExportedTo(d.Namespace, se.ExportTo)) {
		b.warnf(d, d.EntryPath("spec.exportTo"), "exported to no namespace (\"~\"): no proxy sees the service, so no sidecar routes its hosts and a route to it is an error")
	}
}

// onlyForNamespaces limits a sidecar service's routes to the proxies of the namespaces its
// ServiceEntry is exported to (nil: every namespace, the routes unchanged), as Istio builds no
// virtual host for a service a proxy does not see: each route's condition gets those
// namespaces, intersected with the ones it already names (VirtualService exportTo); a route
// left for no namespace is dropped. A proxy elsewhere is served the virtual host without
// routes, and answers 404, as for a host it does not know.
func onlyForNamespaces(routes []*ir.Route, exported []string) []*ir.Route {
	if exported == nil {
		return routes
	}
	out := make([]*ir.Route, 0, len(routes))
	for _, r := range routes {
		s := ir.Source{}
		if r.Source != nil {
			s = *r.Source
		}
		namespaces := exported
		if s.Namespaces != nil {
			namespaces = slices.DeleteFunc(slices.Clone(s.Namespaces), func(ns string) bool { return !slices.Contains(exported, ns) })
		}
		if len(namespaces) == 0 || s.Namespace != "" && !slices.Contains(namespaces, s.Namespace) {
			continue
		}
		s.Namespaces = namespaces
		r.Source = &s
		out = append(out, r)
	}
	return out
}

// destRef is one destination (or mirror) of a translated route: its document and path, for the
// finding, the service host and the cluster.
type destRef struct {
	doc     *schema.Document
	path    string
	host    string
	cluster string
	subset  string
	port    uint32
}

// subsetPath is where the destination names its subset.
func (r destRef) subsetPath() string {
	return strings.TrimSuffix(r.path, ".host") + ".subset"
}

// recordDests keeps the destinations resolved while translating the rule that made r, those r
// sends to (a destination of weight 0, a mirror of 0% send nothing).
func (b *builder) recordDests(r *ir.Route) {
	var refs []destRef
	for _, ref := range b.pendingDests {
		if slices.ContainsFunc(r.Clusters, func(c ir.WeightedCluster) bool { return c.Name == ref.cluster }) ||
			slices.ContainsFunc(r.Mirrors, func(m ir.Mirror) bool { return m.Cluster == ref.cluster }) {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return
	}
	if b.routeDests == nil {
		b.routeDests = map[*ir.Route][]destRef{}
	}
	b.routeDests[r] = refs
}

// routeNamespaces is where a route applies by its condition: nil for every namespace, else
// the namespaces named by both its exportTo and its sourceNamespace (possibly none).
func routeNamespaces(s *ir.Source) []string {
	switch {
	case s == nil || s.Namespaces == nil && s.Namespace == "":
		return nil
	case s.Namespaces == nil:
		return []string{s.Namespace}
	case s.Namespace == "":
		return s.Namespaces
	case slices.Contains(s.Namespaces, s.Namespace):
		return []string{s.Namespace}
	default:
		return []string{}
	}
}

// checkDestinationExports reports a route that sends requests to a service its ServiceEntry
// does not export to a namespace where the route applies: Istio's proxies there have no
// cluster for it and answer 503 (a mirror there is dropped). On a sidecar a route applies in
// the namespaces its condition names, or in every namespace; at a gateway (gateway non-nil)
// in the namespace of its Gateway resource, where Istio's gateway proxies are usually
// deployed (and where a security policy reaches them, reach.go), if its condition names it.
func (b *builder) checkDestinationExports(routes []*ir.Route, gateway *schema.Document) {
	for _, r := range routes {
		refs := b.routeDests[r]
		if len(refs) == 0 {
			continue
		}
		where := routeNamespaces(r.Source)
		if gateway != nil {
			if where != nil && !slices.Contains(where, gateway.Namespace) {
				continue // for no proxy of this gateway
			}
			where = []string{gateway.Namespace}
		}
		if where != nil && len(where) == 0 {
			continue
		}
		for _, ref := range refs {
			svc := b.services[ref.host]
			if svc == nil {
				continue
			}
			b.checkSubsetVisible(ref, svc, where, routeApplies(gateway, where))
			if svc.entries != nil {
				b.checkEntryDestination(ref, svc, where, routeApplies(gateway, where))
				continue
			}
			exported := svc.exportedTo()
			if exported == nil {
				continue
			}
			applies := routeApplies(gateway, where)
			switch {
			case gateway != nil:
				if slices.Contains(exported, gateway.Namespace) {
					continue
				}
			case where == nil:
			default:
				missing := slices.DeleteFunc(slices.Clone(where), func(ns string) bool { return slices.Contains(exported, ns) })
				if len(missing) == 0 {
					continue
				}
				applies = "on sidecars in " + namespaceList(missing)
			}
			visible := "no namespace"
			if !exportedNowhere(exported) {
				visible = namespaceList(exported) + " only"
			}
			outcome := "its requests get 503 (cluster not found)"
			if strings.Contains(ref.path, ".mirror") {
				outcome = "nothing is mirrored"
			}
			b.errorf(ref.doc, ref.path, "host %q is %s %s/%s, exported to %s (exportTo %s), but the route applies %s: Istio's proxies there do not see the service and %s",
				ref.host, svc.doc.Kind, svc.doc.Namespace, svc.doc.Name, visible, quotedList(svc.entry.ExportTo), applies, outcome)
		}
	}
}

// routeApplies says where a route applies, for a finding: at a gateway (non-nil), in its
// namespace; on sidecars, in the namespaces where names (nil: every one).
func routeApplies(gateway *schema.Document, where []string) string {
	switch {
	case gateway != nil:
		return fmt.Sprintf("at gateway %s/%s, whose proxies are taken to run in its namespace %s", gateway.Namespace, gateway.Name, gateway.Namespace)
	case where == nil:
		return "on sidecars in every namespace"
	}
	return "on sidecars in " + namespaceList(where)
}

func namespaceList(ns []string) string {
	if len(ns) == 1 {
		return "namespace " + ns[0]
	}
	return "namespaces " + strings.Join(ns, ", ")
}

// quotedList writes a list of strings as YAML and JSON both read it: ["." "team-a"] as
// [".", "team-a"].
func quotedList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
