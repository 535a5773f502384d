package diff

import (
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
)

// sniChains maps the filter chains of a TLS passthrough listener (one with listener filters,
// whose chains are chosen by SNI) by their server names ("*" for the chain without) to their
// TCP proxies; nil for any other listener.
func sniChains(l *listener.Listener) map[string]*tcp.TcpProxy {
	if len(l.ListenerFilters) == 0 {
		return nil
	}
	out := map[string]*tcp.TcpProxy{}
	for _, fc := range l.FilterChains {
		key := "*"
		if names := fc.GetFilterChainMatch().GetServerNames(); len(names) > 0 {
			key = strings.Join(names, ",")
		}
		for _, f := range fc.Filters {
			var t tcp.TcpProxy
			if f.Name == wellknown.TCPProxy && f.GetTypedConfig().UnmarshalTo(&t) == nil {
				out[key] = &t
			}
		}
	}
	return out
}

// compareSNI reports, per server names, the SNI routes of a passthrough listener added,
// removed or sending connections elsewhere; false when it found nothing to say (the change is
// elsewhere in the listener).
func (r *Report) compareSNI(role, name string, before, after map[string]*tcp.TcpProxy) bool {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	reported := false
	for _, k := range sortedKeys(keys) {
		add := func(what, b, a string) {
			r.add(Change{Role: role, Listener: name + " sni " + k, What: what, Before: b, After: a})
			reported = true
		}
		b, a := before[k], after[k]
		switch {
		case b == nil:
			add(SNIRouteAdded, "", describeDests(tcpDests(a)))
		case a == nil:
			add(SNIRouteRemoved, describeDests(tcpDests(b)), "")
		case !proto.Equal(b, a):
			compareTCP(b, a, add)
		}
	}
	return reported
}
