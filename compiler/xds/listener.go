package xds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/signalbox/signalbox/compiler/ir"
)

// adsSource tells Envoy to fetch a resource over the same ADS stream.
func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

// Listener builds an HTTP listener whose routes come from RDS, with the Router filter last
// (Envoy and gRPC both require it).
func Listener(l *ir.Listener) (*listener.Listener, error) {
	routerCfg, err := pack(&router.Router{})
	if err != nil {
		return nil, err
	}
	manager := &hcm.HttpConnectionManager{
		StatPrefix: l.Name,
		CodecType:  hcm.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: l.RouteName,
		}},
		HttpFilters: []*hcm.HttpFilter{{
			Name:       wellknown.Router,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerCfg},
		}},
	}
	managerCfg, err := pack(manager)
	if err != nil {
		return nil, err
	}
	return validated(&listener.Listener{
		Name:    l.Name,
		Address: socketAddress(l.Address, l.Port),
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{{
				Name:       wellknown.HTTPConnectionManager,
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: managerCfg},
			}},
		}},
	})
}

func socketAddress(addr string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address:       addr,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
