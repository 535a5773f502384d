package proxy

import (
	"math/rand/v2"
	"net/http"
	"strconv"
)

// routeTable is one RouteConfiguration linked to the clusters known when it was built. It is
// immutable: an update builds a new table and swaps the pointer, so a request in flight keeps
// the table it started with.
type routeTable struct {
	cfg    *routeConfig
	vhosts [][]linkedRoute // parallel to cfg.vhosts

	// A scoped listener's table has no cfg: it routes each request by the table of the scope
	// whose key keyOf extracts from the request (scoped_routes.go).
	keyOf  *scopeKeyBuilder
	scopes map[string]*routeTable
	// folded holds the scopes whose host-name keys have upper-case letters, by the key in
	// lower case (foldScopeKeys); nil when there are none.
	folded map[string]*routeTable
}

type linkedRoute struct {
	r  *route
	vh *virtualHost
	rc *routeConfig
	// clusters is parallel to r.targets; a nil entry names a cluster CDS has not sent.
	clusters []*cluster
	// mirrors is parallel to r.mirrors.
	mirrors []*cluster
	stats   *routeStats // nil in tables built without a registry
}

// attachStats gives every route its counters from reg.
func (t *routeTable) attachStats(reg *statsRegistry) {
	for i, routes := range t.vhosts {
		for j := range routes {
			name := routes[j].r.name
			if name == "" {
				name = "#" + strconv.Itoa(j)
			}
			routes[j].stats = reg.route(routeKey{config: t.cfg.name, vhost: t.cfg.vhosts[i].name, route: name})
		}
	}
}

// linkRouteTable resolves every cluster name of cfg with resolve (nil: unknown cluster).
func linkRouteTable(cfg *routeConfig, resolve func(name string) *cluster) *routeTable {
	t := &routeTable{cfg: cfg, vhosts: make([][]linkedRoute, len(cfg.vhosts))}
	for i := range cfg.vhosts {
		routes := cfg.vhosts[i].routes
		linked := make([]linkedRoute, len(routes))
		for j := range routes {
			r := &routes[j]
			cs := make([]*cluster, len(r.targets))
			for k, tg := range r.targets {
				cs[k] = resolve(tg.cluster)
			}
			var ms []*cluster
			for _, m := range r.mirrors {
				ms = append(ms, resolve(m.cluster))
			}
			linked[j] = linkedRoute{r: r, vh: &cfg.vhosts[i], rc: cfg, clusters: cs, mirrors: ms}
		}
		t.vhosts[i] = linked
	}
	return t
}

// cluster returns the cluster this table links under name, or nil; t may be nil.
func (t *routeTable) cluster(name string) *cluster {
	if t == nil {
		return nil
	}
	for _, st := range t.scopes {
		if c := st.cluster(name); c != nil {
			return c
		}
	}
	for _, routes := range t.vhosts {
		for _, lr := range routes {
			for i, tg := range lr.r.targets {
				if tg.cluster == name {
					return lr.clusters[i]
				}
			}
			for i, m := range lr.r.mirrors {
				if m.cluster == name {
					return lr.mirrors[i]
				}
			}
		}
	}
	return nil
}

// lookup finds the route for a request: virtual host by Host, then the first matching route.
func (t *routeTable) lookup(r *http.Request) *linkedRoute {
	if t.keyOf != nil {
		k, ok := t.keyOf.key(r)
		if !ok {
			return nil
		}
		st := t.scope(k)
		if st == nil {
			return nil
		}
		t = st
	}
	vh := t.cfg.domains.find(r.Host)
	if vh < 0 {
		return nil
	}
	routes := t.vhosts[vh]
	if len(routes) == 0 {
		return nil
	}
	path := requestPath(r)
	for i := range routes {
		if routes[i].r.matches(r, path) {
			return &routes[i]
		}
	}
	return nil
}

// pickCluster chooses among the route's targets by weight; the index is into r.targets.
func (lr *linkedRoute) pickCluster() int {
	if len(lr.clusters) <= 1 {
		return 0
	}
	return pickWeighted(lr.r.targets, lr.r.weightSum, func(t *target) uint64 { return t.weight })
}

// pickWeighted chooses an index of ts at random by weight, as Envoy's weighted clusters do
// for HTTP routes and TCP proxies alike; sum is the weights' total (not 0).
func pickWeighted[T any](ts []T, sum uint64, weight func(*T) uint64) int {
	x := rand.Uint64N(sum)
	for i := range ts {
		w := weight(&ts[i])
		if x < w {
			return i
		}
		x -= w
	}
	return len(ts) - 1
}
