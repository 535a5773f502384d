package xds

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// tcpListener builds a gateway's listener that forwards connections, as Istio builds a
// plain-text TCP server's (no HTTP connection manager, no RDS): each filter chain holds the
// network RBAC filters of the listener's authorization, if any, then the TCP proxy. A TCP
// listener has one chain; a TLS passthrough listener has one per SNI route, chosen by the
// server names Envoy's TLS inspector reads from each connection's ClientHello.
func tcpListener(l *ir.Listener) (*listener.Listener, error) {
	out := &listener.Listener{Name: l.Name, Address: socketAddress(l.Address, l.Port)}
	if l.TCP != nil {
		fc, err := tcpChain(l, l.TCP)
		if err != nil {
			return nil, err
		}
		out.FilterChains = []*listener.FilterChain{fc}
		return validated(out)
	}
	inspector, err := tlsInspector()
	if err != nil {
		return nil, err
	}
	out.ListenerFilters = []*listener.ListenerFilter{inspector}
	for _, r := range l.Passthrough {
		fc, err := tcpChain(l, r.TCP)
		if err != nil {
			return nil, err
		}
		matchServerNames(fc, r.ServerNames)
		out.FilterChains = append(out.FilterChains, fc)
	}
	return validated(out)
}

// tcpChain is one filter chain: the listener's network RBAC filters, then the TCP proxy t.
func tcpChain(l *ir.Listener, t *ir.TCPProxy) (*listener.FilterChain, error) {
	proxy := &tcp.TcpProxy{StatPrefix: t.StatPrefix}
	if t.Cluster != "" {
		proxy.ClusterSpecifier = &tcp.TcpProxy_Cluster{Cluster: t.Cluster}
	} else {
		weighted := &tcp.TcpProxy_WeightedCluster{}
		for _, c := range t.Clusters {
			weighted.Clusters = append(weighted.Clusters, &tcp.TcpProxy_WeightedCluster_ClusterWeight{Name: c.Name, Weight: c.Weight})
		}
		proxy.ClusterSpecifier = &tcp.TcpProxy_WeightedClusters{WeightedClusters: weighted}
	}
	if t.IdleTimeout != nil {
		// Set even when 0, which tells Envoy never to time out; unset keeps Envoy's hour.
		proxy.IdleTimeout = durationpb.New(timeDuration(*t.IdleTimeout))
	}
	cfg, err := pack(proxy)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	filters, err := networkRBACFilters(l.Authorization)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	filters = append(filters, &listener.Filter{
		Name:       wellknown.TCPProxy,
		ConfigType: &listener.Filter_TypedConfig{TypedConfig: cfg},
	})
	return &listener.FilterChain{Filters: filters}, nil
}
