package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// sidecarScope is one Sidecar resource as the compiler reads it: which proxies it applies to
// (ir.SidecarScope) and the egress hosts they see.
type sidecarScope struct {
	doc   *schema.Document
	scope ir.SidecarScope
	hosts []egressHost
	// root: the root namespace's Sidecar without workloadSelector, the mesh-wide default,
	// whose "./" hosts are, as Istio applies it, the namespace of each proxy it applies to.
	root bool
}

// egressHost is one "namespace/dnsName" of a Sidecar's egress.
type egressHost struct{ namespace, host string }

// sidecarScopes reads the tree's Sidecar resources, sorted by namespace and name (Istio
// applies the oldest of several that match a proxy; without creation times, the first by
// name), refusing what signalbox does not honour and a second Sidecar without
// workloadSelector in a namespace.
func (b *builder) sidecarScopes() []*sidecarScope {
	var out []*sidecarScope
	plain := map[string]*schema.Document{}
	docs := b.docs(schema.KindSidecar)
	slices.SortStableFunc(docs, func(x, y *schema.Document) int {
		return strings.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
	})
	for _, d := range docs {
		sc := d.Spec.(*schema.Sidecar)
		seen := len(b.findings)
		b.checkSidecar(d, sc)
		if sc.WorkloadSelector == nil {
			if first, dup := plain[d.Namespace]; dup {
				b.errorf(d, "metadata.name", "namespace %s already has Sidecar %s without workloadSelector: Istio applies only one of them, so a namespace has at most one", d.Namespace, first.Name)
				continue
			}
			plain[d.Namespace] = d
		}
		if schema.HasErrors(b.findings[seen:]) {
			continue
		}
		s := &sidecarScope{doc: d, scope: ir.SidecarScope{Name: d.Namespace + "/" + d.Name, Namespace: d.Namespace}}
		if sc.WorkloadSelector != nil {
			s.scope.Selected, s.scope.Selector = true, sc.WorkloadSelector.Labels
		}
		s.root = d.Namespace == rootNamespace && sc.WorkloadSelector == nil
		if len(sc.Egress) == 0 {
			// Istio's default egress: every namespace's hosts.
			s.hosts = []egressHost{{"*", "*"}}
		}
		for _, e := range sc.Egress {
			for _, h := range e.Hosts {
				ns, host, _ := strings.Cut(h, "/")
				s.hosts = append(s.hosts, egressHost{ns, host})
			}
		}
		out = append(out, s)
	}
	return out
}

// checkSidecar refuses the fields of a Sidecar that signalbox's proxies do not honour: they
// take no inbound traffic, and a sidecar has one outbound listener for every port, which
// answers 404 to a host it does not know (Istio's REGISTRY_ONLY).
func (b *builder) checkSidecar(d *schema.Document, sc *schema.Sidecar) {
	if len(sc.Ingress) > 0 {
		b.unsupportedf(d, "spec.ingress", "signalbox proxies take no inbound traffic for a workload: only egress hosts are honoured")
	}
	if sc.InboundConnectionPool != nil {
		b.unsupportedf(d, "spec.inboundConnectionPool", "signalbox proxies take no inbound traffic for a workload: only egress hosts are honoured")
	}
	for i, e := range sc.Egress {
		p := fmt.Sprintf("spec.egress[%d]", i)
		if e.Port != nil {
			b.unsupportedf(d, p+".port", "a signalbox sidecar has one outbound listener for every port: an egress listener without a port is honoured, one per port is not")
		}
		if e.Bind != "" {
			b.unsupportedf(d, p+".bind", "the sidecar's outbound listener address is sidecarListener in signalbox.yaml")
		}
		if e.CaptureMode != "" {
			b.unsupportedf(d, p+".captureMode", "signalbox proxies capture no traffic: the workload sends it to the outbound listener")
		}
		for j, h := range e.Hosts {
			// Egress hosts are matched as written, never expanded: "payments/payments" admits
			// no payments.payments.svc.cluster.local, and nothing else would say so.
			ns, name, _ := strings.Cut(h, "/")
			if name == "*" || strings.Contains(name, ".") {
				continue
			}
			full := name + ".NAMESPACE.svc.cluster.local"
			if ns == "." {
				full = name + "." + d.Namespace + ".svc.cluster.local"
			} else if ns != "*" && ns != "~" {
				full = name + "." + ns + ".svc.cluster.local"
			}
			b.warnf(d, fmt.Sprintf("%s.hosts[%d]", p, j), "%q names a short host: egress hosts are matched as written, "+
				"so it admits only a host named exactly %q; write the full name (%s/%s)", h, name, ns, full)
		}
	}
	if tp := sc.OutboundTrafficPolicy; tp != nil {
		if tp.Mode == "ALLOW_ANY" {
			b.unsupportedf(d, "spec.outboundTrafficPolicy.mode", "a signalbox sidecar answers 404 to a host it does not know, as REGISTRY_ONLY does: it has no passthrough to the original destination")
		}
		if tp.EgressProxy != nil {
			b.unsupportedf(d, "spec.outboundTrafficPolicy.egressProxy", "a signalbox sidecar answers 404 to a host it does not know, as REGISTRY_ONLY does")
		}
	}
}

// admission is which proxies of the Sidecar see a resource of namespace ns with these hosts
// (a ServiceEntry's or a VirtualService's, expanded): all of them (full), or for the root
// namespace's Sidecar, whose "./" hosts are each proxy's own namespace, those in ns (dot).
func (s *sidecarScope) admission(ns string, hosts []string) (full, dot bool) {
	for _, e := range s.hosts {
		if !slices.ContainsFunc(hosts, func(h string) bool { return schema.HostsOverlap(e.host, h) }) {
			continue
		}
		switch e.namespace {
		case "*":
			return true, false
		case "~":
		case ".":
			if s.root {
				dot = true
			} else if s.scope.Namespace == ns {
				return true, false
			}
		default:
			if e.namespace == ns {
				return true, false
			}
		}
	}
	return false, dot
}

// visibility says, for the sidecar's virtual hosts, which Sidecars' proxies see a service
// or a VirtualService (ir.Source.Sidecars).
type visibility struct {
	scopes []*sidecarScope
	// inferred are the mesh VirtualServices that send to each service host: as Istio adds
	// the destinations of the VirtualServices a Sidecar admits to what its proxies see.
	inferred map[string][]*schema.Document
	vs       map[*schema.Document][]string
}

// visibilityOf is nil when the tree has no Sidecar: every route stays for every proxy.
func (b *builder) visibilityOf(scopes []*sidecarScope) *visibility {
	if len(scopes) == 0 {
		return nil
	}
	v := &visibility{scopes: scopes, inferred: map[string][]*schema.Document{}, vs: map[*schema.Document][]string{}}
	for _, d := range b.docs(schema.KindVirtualService) {
		if !slices.Contains(boundGateways(d), meshGateway) {
			continue
		}
		for _, h := range virtualServiceDestinations(d) {
			if !slices.Contains(v.inferred[h], d) {
				v.inferred[h] = append(v.inferred[h], d)
			}
		}
	}
	return v
}

// virtualServiceDestinations are the hosts a VirtualService sends to (routes and mirrors of
// its http, tls and tcp rules), expanded in its namespace.
func virtualServiceDestinations(d *schema.Document) []string {
	vs := d.Spec.(*schema.VirtualService)
	var out []string
	add := func(h string) {
		if h != "" {
			out = append(out, expandHost(h, d.Namespace))
		}
	}
	for _, r := range vs.HTTP {
		for _, dst := range r.Route {
			add(dst.Destination.Host)
		}
		if r.Mirror != nil {
			add(r.Mirror.Host)
		}
		for _, m := range r.Mirrors {
			add(m.Destination.Host)
		}
	}
	for _, r := range vs.TLS {
		for _, dst := range r.Route {
			add(dst.Destination.Host)
		}
	}
	for _, r := range vs.TCP {
		for _, dst := range r.Route {
			add(dst.Destination.Host)
		}
	}
	return out
}

// visible is a ServiceEntry's or VirtualService's namespace and (expanded) hosts.
type visible struct {
	namespace string
	hosts     []string
}

func vsResource(d *schema.Document) visible {
	vs := d.Spec.(*schema.VirtualService)
	r := visible{namespace: d.Namespace}
	for _, h := range vs.Hosts {
		r.hosts = append(r.hosts, expandHost(h, d.Namespace))
	}
	return r
}

// sidecars is ir.Source.Sidecars for a route seen by the proxies that see any of these
// resources: "" (no Sidecar) and every Sidecar that admits one, nil when all of them do.
func (v *visibility) sidecars(rs ...visible) []string {
	out := []string{""}
	all := true
	for _, s := range v.scopes {
		full := false
		var dots []string
		for _, r := range rs {
			f, dot := s.admission(r.namespace, r.hosts)
			if f {
				full = true
				break
			}
			if dot && !slices.Contains(dots, r.namespace) {
				dots = append(dots, r.namespace)
			}
		}
		if full {
			out = append(out, s.scope.Name)
			continue
		}
		all = false
		slices.Sort(dots)
		for _, ns := range dots {
			out = append(out, s.scope.Name+"@"+ns)
		}
	}
	if all {
		return nil
	}
	return out
}

// ofVirtualService is sidecars for the routes of a VirtualService.
func (v *visibility) ofVirtualService(d *schema.Document) []string {
	if out, ok := v.vs[d]; ok {
		return out
	}
	out := v.sidecars(vsResource(d))
	v.vs[d] = out
	return out
}

// ofService is sidecars for a service's default routes: the proxies that see its
// ServiceEntry, or a mesh VirtualService that sends to it.
func (v *visibility) ofService(svc *service) []string {
	rs := []visible{{namespace: svc.doc.Namespace, hosts: []string{svc.host}}}
	for _, d := range v.inferred[svc.host] {
		rs = append(rs, vsResource(d))
	}
	return v.sidecars(rs...)
}

// ofHost is ofService for a service's virtual hosts: for a host several namespaces declare,
// the Sidecars that admit any entry of it some namespace sees (checkHostEntries holds a
// namespace's own Sidecar to admitting the entry its namespace sees, whenever it admits one);
// the routes' namespace conditions then tell the entries apart. nil: every proxy.
func (v *visibility) ofHost(svc *service) []string {
	if svc.entries == nil {
		return v.ofService(svc)
	}
	union := map[string]bool{}
	for _, e := range svc.entries {
		if !e.seen.Elsewhere && len(e.seen.Only) == 0 {
			continue
		}
		names := v.ofService(e)
		if names == nil {
			return nil
		}
		for _, n := range names {
			union[n] = true
		}
	}
	// In ofService's order: no Sidecar, then each Sidecar's name and its "@namespace" forms.
	out := []string{""}
	for _, sc := range v.scopes {
		if union[sc.scope.Name] {
			out = append(out, sc.scope.Name)
		}
		var dots []string
		for n := range union {
			if strings.HasPrefix(n, sc.scope.Name+"@") {
				dots = append(dots, n)
			}
		}
		slices.Sort(dots)
		out = append(out, dots...)
	}
	return out
}

// limitToSidecars sets the Sidecars of routes (nil: they stay for every proxy).
func limitToSidecars(routes []*ir.Route, sidecars []string) {
	if sidecars == nil {
		return
	}
	for _, r := range routes {
		s := ir.Source{}
		if r.Source != nil {
			s = *r.Source
		}
		s.Sidecars = sidecars
		r.Source = &s
	}
}

// sidecarIR is the Sidecars the publisher chooses from.
func sidecarIR(scopes []*sidecarScope) []ir.SidecarScope {
	var out []ir.SidecarScope
	for _, s := range scopes {
		out = append(out, s.scope)
	}
	return out
}

// narrow drops from routes' Sidecars those no proxy the route is for can take: a Sidecar
// applies only to proxies of its own namespace, and the root namespace's only to those of
// namespaces without a Sidecar of their own (its "./" admission, "NAME@NS", only to NS), so one
// outside the namespaces a route is limited to never chooses it. What each proxy is served stays the same; a Sidecar change in a namespace that
// cannot see the route no longer changes it.
func (v *visibility) narrow(routes []*ir.Route) {
	if v == nil {
		return
	}
	for _, r := range routes {
		src := r.Source
		if src == nil || src.Sidecars == nil || (src.Namespaces == nil && src.Namespace == "") {
			continue
		}
		kept := make([]string, 0, len(src.Sidecars))
		for _, name := range src.Sidecars {
			scopeName, dotNS, isDot := strings.Cut(name, "@")
			switch {
			case name == "":
			case isDot:
				if !src.InNamespace(dotNS) || v.ownSidecar(dotNS) {
					continue
				}
			case v.isRoot(scopeName):
				if src.Namespaces != nil && !slices.ContainsFunc(src.Namespaces, func(ns string) bool { return src.InNamespace(ns) && !v.ownSidecar(ns) }) {
					continue
				}
			default:
				if ns, _, _ := strings.Cut(scopeName, "/"); !src.InNamespace(ns) {
					continue
				}
			}
			kept = append(kept, name)
		}
		r.Source.Sidecars = kept
	}
}

// isRoot reports whether the Sidecar named "namespace/name" is the root namespace's default,
// which applies to the proxies of every namespace without one of its own.
func (v *visibility) isRoot(name string) bool {
	return slices.ContainsFunc(v.scopes, func(s *sidecarScope) bool { return s.root && s.scope.Name == name })
}

// ownSidecar reports whether namespace ns has a Sidecar without workloadSelector other than
// the root one: its proxies never take the root namespace's.
func (v *visibility) ownSidecar(ns string) bool {
	return slices.ContainsFunc(v.scopes, func(s *sidecarScope) bool { return !s.root && !s.scope.Selected && s.scope.Namespace == ns })
}
