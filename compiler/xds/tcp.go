package xds

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// tcpListener builds a gateway's TCP listener: one filter chain of the network RBAC filters of
// its authorization, if any, then the TCP proxy, as Istio builds a plain-text TCP server's (no
// HTTP connection manager, no RDS).
func tcpListener(l *ir.Listener) (*listener.Listener, error) {
	t := l.TCP
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
	return validated(&listener.Listener{
		Name:         l.Name,
		Address:      socketAddress(l.Address, l.Port),
		FilterChains: []*listener.FilterChain{{Filters: filters}},
	})
}
