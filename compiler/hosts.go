package compiler

import (
	"cmp"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// meshDomain is the cluster domain short names expand into, as on Kubernetes.
const meshDomain = schema.MeshDomain

// expandHost resolves a host the Istio way (schema.ExpandHost).
var expandHost = schema.ExpandHost

// shortNames lists the names a client in the mesh may use for a cluster-local host:
// "reviews", "reviews.default", "reviews.default.svc" for reviews.default.svc.cluster.local.
// Other hosts have no short names.
func shortNames(host string) []string {
	rest, ok := strings.CutSuffix(host, "."+meshDomain)
	if !ok {
		return nil
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 2 {
		return nil
	}
	return []string{parts[0], rest, rest + ".svc"}
}

// clusterName is Istio's outbound cluster name, which operators already know from Envoy stats.
func clusterName(port uint32, subset, host string) string {
	return "outbound|" + itoa(port) + "|" + subset + "|" + host
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// serverHostAdmits reports whether a Gateway server host pattern admits the host h of a
// VirtualService in namespace vsNamespace, as Istio binds them: a "namespace/" prefix takes
// VirtualServices of that namespace only ("./" the Gateway's own, gwNamespace; "*/" any).
func serverHostAdmits(pattern, gwNamespace, vsNamespace, h string) bool {
	if ns, _ := schema.ServerHost(pattern, gwNamespace); ns != "*" && ns != vsNamespace {
		return false
	}
	return hostMatches(pattern, h)
}

// hostMatches reports whether a Gateway server host pattern ("*", "*.example.com",
// "ns/host") and the VirtualService host h overlap, whatever the VirtualService's namespace:
// Istio binds them then (host.Name.Matches either way), a VirtualService for *.example.com to a
// server for shop.example.com as much as the reverse.
func hostMatches(pattern, h string) bool {
	_, pattern = schema.ServerHost(pattern, "")
	return schema.HostsOverlap(pattern, h)
}

// serverVirtualHosts groups the VirtualServices a Gateway server binds by the host each is
// served at: the narrower of each overlapping pair of server host and VirtualService host, as
// Istio's gateway.go takes serverHosts.Intersection(virtualServiceHosts). A VirtualService for
// *.example.com on a server for shop.example.com answers shop.example.com only, and one for
// "*" on it does not take the other hosts of the port. Several VirtualServices served at one
// host have their routes one after the other, as Istio appends each one's to the virtual host.
// Istio orders them by creation time, which a git tree does not have: here the VirtualService
// for that very host comes first, then narrower wildcards before wider ones, then namespace and
// name, so that a catch-all "*" VirtualService never shadows the routes of a host's own.
func serverVirtualHosts(claims map[string][]vsClaim, srv schema.Server, gwNamespace string) map[string][]vsClaim {
	out := map[string][]vsClaim{}
	for _, h := range sortedKeys(claims) {
		for _, c := range claims[h] {
			for _, p := range srv.Hosts {
				ns, ph := schema.ServerHost(p, gwNamespace)
				if ns != "*" && ns != c.doc.Namespace {
					continue
				}
				at, ok := schema.HostIntersection(ph, h)
				if !ok || slices.ContainsFunc(out[at], func(x vsClaim) bool { return x.doc == c.doc && x.host == c.host }) {
					continue
				}
				out[at] = append(out[at], c)
			}
		}
	}
	for _, cs := range out {
		// The longer of two overlapping hosts is the narrower: the host itself is the longest.
		slices.SortStableFunc(cs, func(a, b vsClaim) int {
			return cmp.Or(cmp.Compare(len(b.host), len(a.host)),
				strings.Compare(a.doc.Namespace, b.doc.Namespace), strings.Compare(a.doc.Name, b.doc.Name))
		})
	}
	return out
}
