package proxy

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clusterStats are one cluster's counters. They outlive the cluster value (a changed cluster
// keeps counting where it left off), and cost a few atomic adds per request.
type clusterStats struct {
	codes           [600]atomic.Uint64 // by status code; 0 is never used
	pendingOverflow atomic.Uint64
	rqOverflow      atomic.Uint64
	retries         atomic.Uint64
	retryOverflow   atomic.Uint64
	ejections       atomic.Uint64
	mirrors         atomic.Uint64
	cxOverflow      atomic.Uint64 // TCP proxy connections refused by max_connections
	buckets         [len(latencyBuckets) + 1]atomic.Uint64
	sumNanos        atomic.Uint64
}

// latencyBuckets are the histogram's upper bounds, in seconds.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func (s *clusterStats) record(code int, d time.Duration) {
	if code > 0 && code < len(s.codes) {
		s.codes[code].Add(1)
	}
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNanos.Add(uint64(d))
}

// routeStats counts one route's forwarded requests by response code.
type routeStats struct {
	key   routeKey
	codes [600]atomic.Uint64
}

// routeKey names a route: its route configuration, virtual host and route name (or its
// position, "#3", when unnamed).
type routeKey struct{ config, vhost, route string }

func (s *routeStats) record(code int) {
	if s != nil && code > 0 && code < len(s.codes) {
		s.codes[code].Add(1)
	}
}

// listenerStats are one listener's counters, by listener name: for now its RBAC filters'
// decisions (Envoy's rbac.denied and rbac.shadow_denied) and its jwt_authn refusals.
type listenerStats struct {
	rbacDenied       atomic.Uint64
	rbacShadowDenied atomic.Uint64
	jwtDenied        atomic.Uint64 // requests the jwt_authn filter refused (Envoy's jwt_authn.denied)
	// A TCP proxy listener's network RBAC filters (rbac_network.go): connections closed at
	// accept, and connections its shadow rules would have closed.
	tcpRBACDenied       atomic.Uint64
	tcpRBACShadowDenied atomic.Uint64
	// A listener whose chains are chosen by SNI, TLS passthrough (tcp_chains.go) or HTTPS
	// (https_serve.go): connections closed because no filter
	// chain matched their SNI (Envoy's no_filter_chain_match), and connections whose
	// tls_inspector ran out of listener_filters_timeout (Envoy's downstream_pre_cx_timeout).
	tcpNoFilterChainMatch     atomic.Uint64
	tcpListenerFilterTimeouts atomic.Uint64
}

// statsRegistry holds every cluster's, route's and listener's stats by name; they outlive
// configuration changes, so counters only ever grow.
type statsRegistry struct {
	mu          sync.Mutex
	m           map[string]*clusterStats
	routes      map[routeKey]*routeStats
	listeners   map[string]*listenerStats
	tcpConns    map[tcpKey]*tcpStats
	jwksFetches map[jwksFetchKey]*atomic.Uint64 // remote_jwks fetches (jwks_remote_stats.go)
	// clusters is the applied clusters by name, published by applyClusters for the one
	// reader outside the request path's linked tables: remote_jwks fetches, which name a
	// cluster no route may reference.
	clusters atomic.Pointer[map[string]*cluster]
	// upgradesActive is the number of upgraded (WebSocket) connections being tunnelled
	// (upgrade.go), Envoy's downstream_cx_upgrades_active.
	upgradesActive atomic.Int64
	// upgradesRejected counts upgrade requests refused because their connection manager does
	// not enable their upgrade type, Envoy's downstream_rq_ws_on_non_ws_route.
	upgradesRejected atomic.Uint64
}

func (r *statsRegistry) listener(name string) *listenerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listeners == nil {
		r.listeners = map[string]*listenerStats{}
	}
	s, ok := r.listeners[name]
	if !ok {
		s = &listenerStats{}
		r.listeners[name] = s
	}
	return s
}

func (r *statsRegistry) route(k routeKey) *routeStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routes == nil {
		r.routes = map[routeKey]*routeStats{}
	}
	s, ok := r.routes[k]
	if !ok {
		s = &routeStats{key: k}
		r.routes[k] = s
	}
	return s
}

func (r *statsRegistry) get(name string) *clusterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*clusterStats{}
	}
	s, ok := r.m[name]
	if !ok {
		s = &clusterStats{}
		r.m[name] = s
	}
	return s
}

// writePrometheus writes every counter in the Prometheus text exposition format.
func (r *statsRegistry) writePrometheus(w io.Writer) {
	r.mu.Lock()
	stats := maps.Clone(r.m)
	routes := slices.SortedFunc(maps.Values(r.routes), func(a, b *routeStats) int {
		return strings.Compare(a.key.config+"\x00"+a.key.vhost+"\x00"+a.key.route, b.key.config+"\x00"+b.key.vhost+"\x00"+b.key.route)
	})
	listeners := maps.Clone(r.listeners)
	tcp := maps.Clone(r.tcpConns)
	jwks := maps.Clone(r.jwksFetches)
	r.mu.Unlock()
	names := slices.Sorted(maps.Keys(stats))
	counter := func(name, help string, get func(*clusterStats) uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		for _, n := range names {
			fmt.Fprintf(w, "%s{cluster=%q} %d\n", name, n, get(stats[n]))
		}
	}
	fmt.Fprintf(w, "# HELP signalbox_proxy_requests_total Requests routed to a cluster, by response code.\n# TYPE signalbox_proxy_requests_total counter\n")
	for _, n := range names {
		s := stats[n]
		for code := range s.codes {
			if v := s.codes[code].Load(); v > 0 {
				fmt.Fprintf(w, "signalbox_proxy_requests_total{cluster=%q,code=\"%d\"} %d\n", n, code, v)
			}
		}
	}
	fmt.Fprintf(w, "# HELP signalbox_proxy_route_requests_total Requests forwarded by a route, by response code.\n# TYPE signalbox_proxy_route_requests_total counter\n")
	for _, rs := range routes {
		for code := range rs.codes {
			if v := rs.codes[code].Load(); v > 0 {
				fmt.Fprintf(w, "signalbox_proxy_route_requests_total{route_config=%q,virtual_host=%q,route=%q,code=\"%d\"} %d\n",
					rs.key.config, rs.key.vhost, rs.key.route, code, v)
			}
		}
	}
	counter("signalbox_proxy_upstream_rq_pending_overflow_total", "Requests refused because the cluster's pending-request circuit breaker was open.",
		func(s *clusterStats) uint64 { return s.pendingOverflow.Load() })
	counter("signalbox_proxy_upstream_rq_overflow_total", "Requests refused because the cluster's max_requests circuit breaker was open.",
		func(s *clusterStats) uint64 { return s.rqOverflow.Load() })
	counter("signalbox_proxy_upstream_rq_retry_total", "Retries sent to the cluster.",
		func(s *clusterStats) uint64 { return s.retries.Load() })
	counter("signalbox_proxy_upstream_rq_retry_overflow_total", "Retries not sent because the cluster's max_retries circuit breaker was open.",
		func(s *clusterStats) uint64 { return s.retryOverflow.Load() })
	counter("signalbox_proxy_outlier_ejections_total", "Endpoints ejected by outlier detection.",
		func(s *clusterStats) uint64 { return s.ejections.Load() })
	counter("signalbox_proxy_mirror_requests_total", "Shadow requests sent to the cluster.",
		func(s *clusterStats) uint64 { return s.mirrors.Load() })
	counter("signalbox_proxy_upstream_cx_overflow_total", "TCP proxy connections closed because the cluster's max_connections circuit breaker was open.",
		func(s *clusterStats) uint64 { return s.cxOverflow.Load() })
	writeTCPStats(w, tcp)
	writeJWKSStats(w, jwks)
	for _, c := range []struct {
		name, help string
		get        func(*listenerStats) uint64
	}{
		{"signalbox_proxy_rbac_denied_total", "Requests a listener's RBAC filters denied (403).",
			func(s *listenerStats) uint64 { return s.rbacDenied.Load() }},
		{"signalbox_proxy_rbac_shadow_denied_total", "Requests a listener's RBAC shadow rules would have denied.",
			func(s *listenerStats) uint64 { return s.rbacShadowDenied.Load() }},
		{"signalbox_proxy_jwt_authn_denied_total", "Requests a listener's jwt_authn filter refused (401 or 403).",
			func(s *listenerStats) uint64 { return s.jwtDenied.Load() }},
		{"signalbox_proxy_tcp_rbac_denied_total", "Connections a TCP proxy listener's network RBAC filters closed at accept.",
			func(s *listenerStats) uint64 { return s.tcpRBACDenied.Load() }},
		{"signalbox_proxy_tcp_rbac_shadow_denied_total", "Connections a TCP proxy listener's network RBAC shadow rules would have closed.",
			func(s *listenerStats) uint64 { return s.tcpRBACShadowDenied.Load() }},
		{"signalbox_proxy_tcp_no_filter_chain_match_total", "Connections a listener whose filter chains are chosen by SNI (TLS passthrough or HTTPS) closed because no chain matched their SNI.",
			func(s *listenerStats) uint64 { return s.tcpNoFilterChainMatch.Load() }},
		{"signalbox_proxy_tcp_listener_filter_timeouts_total", "Connections whose tls_inspector ran out of the listener's listener_filters_timeout.",
			func(s *listenerStats) uint64 { return s.tcpListenerFilterTimeouts.Load() }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
		for _, n := range slices.Sorted(maps.Keys(listeners)) {
			fmt.Fprintf(w, "%s{listener=%q} %d\n", c.name, n, c.get(listeners[n]))
		}
	}
	const h = "signalbox_proxy_request_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Time from routing a request to the end of its response, by cluster.\n# TYPE %s histogram\n", h, h)
	for _, n := range names {
		s := stats[n]
		var cum uint64
		for i, b := range latencyBuckets {
			cum += s.buckets[i].Load()
			fmt.Fprintf(w, "%s_bucket{cluster=%q,le=\"%g\"} %d\n", h, n, b, cum)
		}
		cum += s.buckets[len(latencyBuckets)].Load()
		fmt.Fprintf(w, "%s_bucket{cluster=%q,le=\"+Inf\"} %d\n", h, n, cum)
		fmt.Fprintf(w, "%s_sum{cluster=%q} %g\n", h, n, time.Duration(s.sumNanos.Load()).Seconds())
		fmt.Fprintf(w, "%s_count{cluster=%q} %d\n", h, n, cum) // the +Inf bucket: one atomic less per request
	}
	fmt.Fprintf(w, "# HELP signalbox_proxy_upgrades_active Upgraded (WebSocket) connections being tunnelled.\n# TYPE signalbox_proxy_upgrades_active gauge\n")
	fmt.Fprintf(w, "signalbox_proxy_upgrades_active %d\n", r.upgradesActive.Load())
	fmt.Fprintf(w, "# HELP signalbox_proxy_upgrades_rejected_total Upgrade requests refused (403) because upgrade_configs does not enable their type.\n# TYPE signalbox_proxy_upgrades_rejected_total counter\n")
	fmt.Fprintf(w, "signalbox_proxy_upgrades_rejected_total %d\n", r.upgradesRejected.Load())
}

// listenerCounters names a listener's counters for the filters that count per listener (RBAC,
// jwt_authn) and resolves them from the registry once per configuration; they outlive it.
type listenerCounters struct {
	listener string
	stats    atomic.Pointer[listenerStats]
}

func (l *listenerCounters) counters(reg *statsRegistry) *listenerStats {
	if s := l.stats.Load(); s != nil {
		return s
	}
	s := reg.listener(l.listener)
	l.stats.Store(s)
	return s
}
