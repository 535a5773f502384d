package compiler

import (
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
// "ns/host") admits the VirtualService host h, whatever the VirtualService's namespace.
func hostMatches(pattern, h string) bool {
	_, pattern = schema.ServerHost(pattern, "")
	switch {
	case pattern == "*" || h == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(h, pattern[1:]) || (strings.HasPrefix(h, "*.") && strings.HasSuffix(h, pattern[1:]))
	default:
		return pattern == h
	}
}
