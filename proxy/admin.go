package proxy

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// AdminHandler serves the proxy's admin endpoints:
//
//	GET /healthz  200 while the process runs
//	GET /ready    200 once listeners, routes, clusters and endpoints have been applied, else 503
//	GET /config   JSON: the node's id and locality, listeners with their bound addresses,
//	              ACKed versions, the last NACK, clusters with their endpoints and
//	              circuit-breaker counters
//	GET /metrics  Prometheus text: per-cluster requests by code, latency histograms,
//	              circuit-breaker overflows, retries, ejections, mirrored requests, requests
//	              denied by RBAC per listener
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !p.Ready() {
			http.Error(w, "not ready: waiting for the first listeners, routes, clusters and endpoints", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		p.fwd.stats.writePrometheus(w)
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(p.configDump())
	})
	return mux
}

// ConfigDump is the body of GET /config.
type ConfigDump struct {
	NodeID string `json:"node_id"`
	// Locality is the proxy's own, as its node sends it; absent when it has none.
	Locality *Locality `json:"locality,omitempty"`
	// Namespace is the proxy's own, as its node sends it; absent when it has none.
	Namespace string            `json:"namespace,omitempty"`
	XDSAddr   string            `json:"xds_addr"`
	Connected bool              `json:"connected"`
	Ready     bool              `json:"ready"`
	Versions  map[string]string `json:"versions"`
	Listeners []ListenerDump    `json:"listeners"`
	Clusters  []ClusterDump     `json:"clusters"`
	LastNACK  *NACKRecord       `json:"last_nack"`
}

type ListenerDump struct {
	Name         string `json:"name"`
	Address      string `json:"address"`       // as xDS gave it
	BoundAddress string `json:"bound_address"` // what the socket is bound to
	RouteConfig  string `json:"route_config"`
	// Routed is false until the listener's route configuration has arrived; a TCP proxy
	// listener has none and is routed from the start.
	Routed bool `json:"routed"`
	// TCPClusters are the clusters a TCP proxy listener sends connections to (no routes).
	TCPClusters []string `json:"tcp_clusters,omitempty"`
	// FilterChains are the chains of a listener that chooses them by SNI, in order: the
	// server names each is chosen by (none: the catch-all) and its clusters (TLS
	// passthrough) or its route configuration (HTTPS with a certificate per chain).
	FilterChains []FilterChainDump `json:"filter_chains,omitempty"`
}

type FilterChainDump struct {
	ServerNames []string `json:"server_names,omitempty"`
	// Clusters are a TLS passthrough chain's; RouteConfig is an HTTPS chain's route
	// configuration (or scoped routes) name.
	Clusters    []string `json:"clusters,omitempty"`
	RouteConfig string   `json:"route_config,omitempty"`
}

type ClusterDump struct {
	Name      string         `json:"name"`
	EDSName   string         `json:"eds_service_name,omitempty"`
	Endpoints []EndpointDump `json:"endpoints"`
	// Circuit-breaker state and counters.
	ActiveRequests  int64  `json:"active_requests"`
	PendingOverflow uint64 `json:"upstream_rq_pending_overflow"`
	RequestOverflow uint64 `json:"upstream_rq_overflow"`
	RetryOverflow   uint64 `json:"upstream_rq_retry_overflow"`
	Ejections       uint64 `json:"outlier_ejections"`
}

type EndpointDump struct {
	Address string `json:"address"`
	// Weight is the one the balancer uses: under locality-weighted balancing, the endpoint's
	// share of its priority level, its locality's weight folded in (a locality without a
	// weight takes no traffic and its endpoints are not listed).
	Weight  uint32 `json:"weight"`
	Active  int64  `json:"active_requests"`
	Ejected bool   `json:"ejected,omitempty"`
}

func (p *Proxy) configDump() ConfigDump {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := ConfigDump{
		NodeID:    p.opts.NodeID,
		Namespace: p.opts.Namespace,
		XDSAddr:   p.opts.XDSAddr,
		Connected: p.connected,
		Ready:     p.ready,
		Versions:  maps.Clone(p.versions),
		Listeners: []ListenerDump{},
		Clusters:  []ClusterDump{},
		LastNACK:  p.lastNACK,
	}
	if p.opts.Locality != (Locality{}) {
		loc := p.opts.Locality
		d.Locality = &loc
	}
	for _, t := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType} {
		if _, ok := d.Versions[t]; !ok {
			d.Versions[t] = ""
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.bound)) {
		b := p.bound[name]
		ld := ListenerDump{Name: name, Address: b.cfg.addr, BoundAddress: b.addr,
			RouteConfig: b.cfg.routeName, Routed: b.h.table.Load() != nil}
		if b.cfg.tcp != nil {
			ld.Routed, ld.TCPClusters = true, b.cfg.tcp.clusters()
			if b.cfg.tcp.inspector != nil || len(b.cfg.tcp.chains) > 1 {
				for _, ch := range b.cfg.tcp.chains {
					if ch.proxy == nil {
						ld.FilterChains = append(ld.FilterChains, FilterChainDump{ServerNames: ch.serverNames, RouteConfig: b.cfg.sni.chains[ch.http].routeName})
						continue
					}
					ld.FilterChains = append(ld.FilterChains, FilterChainDump{ServerNames: ch.serverNames, Clusters: ch.proxy.clusters()})
				}
			}
		}
		if s := b.sni.Load(); s != nil && b.cfg.sni != nil {
			ld.Routed = s.routed()
		}
		if s := b.sni.Load(); s != nil && b.cfg.sni != nil && b.cfg.tcp == nil {
			ld.Routed = s.routed()
			for _, ch := range s.chains.chains {
				ld.FilterChains = append(ld.FilterChains, FilterChainDump{ServerNames: ch.serverNames, RouteConfig: ch.routeName})
			}
		}
		d.Listeners = append(d.Listeners, ld)
	}
	for _, name := range slices.Sorted(maps.Keys(p.clusters)) {
		c := p.clusters[name]
		cd := ClusterDump{Name: name, EDSName: c.cfg.edsName, Endpoints: []EndpointDump{}, ActiveRequests: c.rq.Load(),
			PendingOverflow: c.stats.pendingOverflow.Load(), RequestOverflow: c.stats.rqOverflow.Load(),
			RetryOverflow: c.stats.retryOverflow.Load(), Ejections: c.stats.ejections.Load()}
		now := time.Now().UnixNano()
		for s := c.eps.Load(); s != nil; s = s.next {
			for _, e := range s.eps {
				until := e.ejectedUntil.Load()
				cd.Endpoints = append(cd.Endpoints, EndpointDump{Address: e.addr, Weight: e.weight, Active: e.active.Load(),
					Ejected: until != 0 && now < until})
			}
		}
		d.Clusters = append(d.Clusters, cd)
	}
	return d
}
