package diff

import (
	"slices"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
)

// tcpProxyOf returns the TCP proxy of a gateway's TCP listener, or nil for any other listener.
func tcpProxyOf(l *listener.Listener) *tcp.TcpProxy {
	for _, fc := range l.FilterChains {
		for _, f := range fc.Filters {
			var t tcp.TcpProxy
			if f.Name == wellknown.TCPProxy && f.GetTypedConfig().UnmarshalTo(&t) == nil {
				return &t
			}
		}
	}
	return nil
}

// tcpDests lists where a TCP proxy sends connections, in the words of route destinations.
func tcpDests(t *tcp.TcpProxy) []dest {
	if c := t.GetCluster(); c != "" {
		return []dest{{c, 100}}
	}
	var out []dest
	for _, c := range t.GetWeightedClusters().GetClusters() {
		out = append(out, dest{c.Name, c.Weight})
	}
	return out
}

// compareTCP reports what changed between two TCP proxies: where connections go (a traffic
// shift is "weights", as for routes), then any other setting. It reports whether it said
// anything.
func compareTCP(b, a *tcp.TcpProxy, add func(what, before, after string)) bool {
	reported := false
	if bd, ad := tcpDests(b), tcpDests(a); !slices.Equal(bd, ad) {
		what := Destinations
		if sameClusters(bd, ad) {
			what = Weights
		}
		add(what, describeDests(bd), describeDests(ad))
		reported = true
	}
	if fields := differingFields(b, a, "cluster", "weighted_clusters"); len(fields) > 0 {
		add(ListenerChanged, "", "changed: tcp proxy "+strings.Join(fields, ", "))
		reported = true
	}
	return reported
}
