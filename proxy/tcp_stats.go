package proxy

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"
)

// tcpStats are one TCP proxy listener's counters for one of its clusters, Envoy's tcp.<prefix>
// downstream statistics split by cluster. Each connection adds to them with a few atomic adds.
type tcpStats struct {
	total        atomic.Uint64 // connections accepted for this cluster
	active       atomic.Int64  // connections being relayed
	noRoute      atomic.Uint64 // closed because CDS has no such cluster
	connectFail  atomic.Uint64 // upstream connection attempts that failed
	idleTimeouts atomic.Uint64 // closed by idle_timeout
	rxBytes      atomic.Uint64 // read from the downstream (sent upstream)
	txBytes      atomic.Uint64 // written to the downstream (read from upstream)
}

type tcpKey struct{ listener, cluster string }

func (r *statsRegistry) tcp(listener, cluster string) *tcpStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tcpConns == nil {
		r.tcpConns = map[tcpKey]*tcpStats{}
	}
	k := tcpKey{listener, cluster}
	s, ok := r.tcpConns[k]
	if !ok {
		s = &tcpStats{}
		r.tcpConns[k] = s
	}
	return s
}

func writeTCPStats(w io.Writer, m map[tcpKey]*tcpStats) {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b tcpKey) int {
		return cmp.Or(cmp.Compare(a.listener, b.listener), cmp.Compare(a.cluster, b.cluster))
	})
	for _, c := range []struct {
		name, typ, help string
		get             func(*tcpStats) uint64
	}{
		{"signalbox_proxy_tcp_connections_total", "counter", "Connections a TCP proxy listener accepted, by the cluster chosen for them.",
			func(s *tcpStats) uint64 { return s.total.Load() }},
		{"signalbox_proxy_tcp_connections_active", "gauge", "Connections a TCP proxy listener is relaying, by cluster.",
			func(s *tcpStats) uint64 { return uint64(max(s.active.Load(), 0)) }},
		{"signalbox_proxy_tcp_no_cluster_total", "counter", "Connections closed because the cluster is unknown (Envoy's downstream_cx_no_route).",
			func(s *tcpStats) uint64 { return s.noRoute.Load() }},
		{"signalbox_proxy_tcp_connect_failures_total", "counter", "Upstream connection attempts that failed, by listener and cluster.",
			func(s *tcpStats) uint64 { return s.connectFail.Load() }},
		{"signalbox_proxy_tcp_idle_timeouts_total", "counter", "Connections closed by the TCP proxy's idle_timeout.",
			func(s *tcpStats) uint64 { return s.idleTimeouts.Load() }},
		{"signalbox_proxy_tcp_received_bytes_total", "counter", "Bytes read from downstream connections and sent upstream.",
			func(s *tcpStats) uint64 { return s.rxBytes.Load() }},
		{"signalbox_proxy_tcp_sent_bytes_total", "counter", "Bytes read from upstream and written to downstream connections.",
			func(s *tcpStats) uint64 { return s.txBytes.Load() }},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", c.name, c.help, c.name, c.typ)
		for _, k := range keys {
			fmt.Fprintf(w, "%s{listener=%q,cluster=%q} %d\n", c.name, k.listener, k.cluster, c.get(m[k]))
		}
	}
}
