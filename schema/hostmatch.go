package schema

import "strings"

// HostsOverlap is Istio's host.Name.Matches both ways: two hosts name some request in common,
// being equal, or one a wildcard ("*", "*.example.com") covering the other (or the other
// wildcard). VirtualService hosts, Sidecar egress hosts and Gateway server hosts compare so.
func HostsOverlap(a, b string) bool {
	if a == b {
		return true
	}
	return HostCovers(a, b) || HostCovers(b, a)
}

// HostIntersection is the narrower of two overlapping hosts, Istio's host.Names.Intersection for
// one pair: what a Gateway server host and a VirtualService host have in common
// ("shop.example.com" for "*.example.com" and "shop.example.com"); false when they do not overlap.
func HostIntersection(a, b string) (string, bool) {
	switch {
	case HostCovers(a, b) || a == b:
		return b, true
	case HostCovers(b, a):
		return a, true
	}
	return "", false
}

// HostCovers reports whether wildcard host w ("*", "*.local") takes every name h does: a
// DestinationRule for w applies to a service of host h.
func HostCovers(w, h string) bool {
	suffix, ok := strings.CutPrefix(w, "*")
	return ok && strings.HasSuffix(strings.TrimPrefix(h, "*"), suffix)
}

// ServerHost splits a Gateway server host "namespace/dnsName" as Istio reads it: the namespace
// whose VirtualServices it takes ("*" any, "." resolved to the Gateway's own, gwNamespace;
// "*" when there is no prefix) and the host.
func ServerHost(pattern, gwNamespace string) (namespace, host string) {
	ns, h, ok := strings.Cut(pattern, "/")
	if !ok {
		return "*", pattern
	}
	if ns == "." {
		ns = gwNamespace
	}
	return ns, h
}
