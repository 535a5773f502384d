package compiler

import (
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
)

// routeScope is one RouteConfiguration of a scoped listener: the virtual hosts whose domains
// share host parts, and those host parts, which select it (one ScopedRouteConfiguration each).
type routeScope struct {
	routeName string
	keys      []string          // sorted
	vhosts    []*ir.VirtualHost // in the listener's order
}

// scopeKeyOf is what Envoy's scope key builder extracts from a domain: the part before the
// first ':' (the listener asks for element 0 of :authority split on ':').
func scopeKeyOf(domain string) string {
	if i := strings.IndexByte(domain, ':'); i >= 0 {
		return domain[:i]
	}
	return domain
}

// scopable reports whether every domain can be selected by an exact scope key: wildcard
// domains ("*.example.com", "*") and IPv6 literals cannot, so a listener that has one keeps a
// single RouteConfiguration.
func scopable(l *ir.Listener) bool {
	for _, vh := range l.VirtualHosts {
		for _, d := range vh.Domains {
			if strings.ContainsAny(d, "*[") {
				return false
			}
		}
	}
	return true
}

// routeScopes splits a scoped listener's virtual hosts into route configurations. Virtual
// hosts whose domains share a host part must sit in the same configuration (the scope key
// carries no port: "reviews:9080" and "reviews:9081" both select scope "reviews"), so the
// groups are the connected components of "shares a key", usually one service each. The result
// is sorted by route name and each group is named after its first virtual host, so the same
// listener always gives the same resources.
func routeScopes(l *ir.Listener) []*routeScope {
	parent := make([]int, len(l.VirtualHosts))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	owner := map[string]int{} // scope key -> a virtual host that has it
	for i, vh := range l.VirtualHosts {
		for _, d := range vh.Domains {
			k := scopeKeyOf(d)
			if j, ok := owner[k]; ok {
				if a, b := find(i), find(j); a != b {
					parent[max(a, b)] = min(a, b)
				}
				continue
			}
			owner[k] = i
		}
	}
	byRoot := map[int]*routeScope{}
	named := map[string]bool{}
	var scopes []*routeScope
	for i, vh := range l.VirtualHosts {
		r := find(i)
		s := byRoot[r]
		if s == nil {
			// The root's host names the group; a virtual host that lost its own name to an
			// earlier one's domain (sortVirtualHosts) keeps its full name instead.
			name := l.RouteName + "|" + scopeKeyOf(l.VirtualHosts[r].Name)
			if named[name] {
				name = l.RouteName + "|" + l.VirtualHosts[r].Name
			}
			named[name] = true
			s = &routeScope{routeName: name}
			byRoot[r] = s
			scopes = append(scopes, s)
		}
		s.vhosts = append(s.vhosts, vh)
	}
	for k, i := range owner {
		s := byRoot[find(i)]
		s.keys = append(s.keys, k)
	}
	for _, s := range scopes {
		slices.Sort(s.keys)
	}
	slices.SortFunc(scopes, func(a, b *routeScope) int { return strings.Compare(a.routeName, b.routeName) })
	return scopes
}
