package xds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	cors "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	fault "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// ads tells Envoy to fetch a resource over the same ADS stream. Built protos are never changed,
// so every resource shares this one.
var ads = &core.ConfigSource{
	ResourceApiVersion:    core.ApiVersion_V3,
	ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
}

func adsSource() *core.ConfigSource { return ads }

// Listener builds an HTTP listener whose routes come from RDS, with the jwt_authn filter of its
// authentication first (the RBAC filters read the payloads it verified), then the RBAC filters
// of its authorization (Istio puts them before the route filters, so a refused request never
// meets a fault), the filters its routes need (CORS, then fault) and the Router last (Envoy and
// gRPC both require it).
// An API listener has no socket: proxyless gRPC clients read its connection manager directly.
// A TCP listener (ir.Listener.TCP) has the TCP proxy instead (tcpListener).
func Listener(l *ir.Listener) (*listener.Listener, error) {
	if l.ForwardsConnections() {
		return tcpListener(l)
	}
	var filters []*hcm.HttpFilter
	jwt, err := jwtFilter(l.Authentication)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	if jwt != nil {
		filters = append(filters, jwt)
	}
	rbacs, err := rbacFilters(l.Authorization)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	filters = append(filters, rbacs...)
	for _, f := range l.Filters {
		switch f {
		case ir.FilterCORS:
			cfg, err := pack(&cors.Cors{})
			if err != nil {
				return nil, err
			}
			// Optional: a client without CORS (gRPC) may ignore it rather than refuse the listener.
			filters = append(filters, &hcm.HttpFilter{Name: corsFilterName, IsOptional: l.API,
				ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: cfg}})
		case ir.FilterFault:
			cfg, err := pack(&fault.HTTPFault{})
			if err != nil {
				return nil, err
			}
			filters = append(filters, &hcm.HttpFilter{Name: faultFilterName,
				ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: cfg}})
		default:
			return nil, fmt.Errorf("listener %s: unknown filter %q", l.Name, f)
		}
	}
	routerCfg, err := pack(&router.Router{SuppressEnvoyHeaders: l.Headers.EnvoyHeaders})
	if err != nil {
		return nil, err
	}
	filters = append(filters, &hcm.HttpFilter{
		Name:       wellknown.Router,
		ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerCfg},
	})
	manager := &hcm.HttpConnectionManager{
		StatPrefix:  l.Name,
		CodecType:   hcm.HttpConnectionManager_AUTO,
		HttpFilters: filters,
	}
	if l.UseRemoteAddress {
		manager.UseRemoteAddress = wrapperspb.Bool(true)
	}
	manager.ServerName = l.ServerName
	if l.Headers.Server {
		// Istio's proxyHeaders.server.disabled: no Server of the proxy's, the upstream's kept.
		manager.ServerHeaderTransformation = hcm.HttpConnectionManager_PASS_THROUGH
	}
	if l.Headers.RequestID {
		manager.GenerateRequestId = wrapperspb.Bool(false)
	}
	if l.SetClientCert {
		manager.ForwardClientCertDetails = hcm.HttpConnectionManager_SANITIZE_SET
		manager.SetCurrentClientCertDetails = &hcm.HttpConnectionManager_SetCurrentClientCertDetails{
			Subject: wrapperspb.Bool(true), Cert: true, Uri: true, Dns: true}
	}
	if !l.API {
		// As Istio sets on every connection manager of a sidecar or gateway: WebSocket
		// upgrades pass through (proxyless gRPC clients have no use for it).
		manager.UpgradeConfigs = []*hcm.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}}
		// Istio's default path normalisation (BASE): paths are made canonical before routes
		// and RBAC see them, escaped slashes left as they came.
		manager.NormalizePath = wrapperspb.Bool(true)
		manager.PathWithEscapedSlashesAction = hcm.HttpConnectionManager_KEEP_UNCHANGED
	}
	setRouteSource(manager, l)
	managerCfg, err := pack(manager)
	if err != nil {
		return nil, err
	}
	md, err := sidecarsMetadata(l.Sidecars)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	if l.API {
		return validated(&listener.Listener{
			Name:        l.Name,
			ApiListener: &listener.ApiListener{ApiListener: managerCfg},
			Metadata:    md,
		})
	}
	chain := &listener.FilterChain{
		Filters: []*listener.Filter{{
			Name:       wellknown.HTTPConnectionManager,
			ConfigType: &listener.Filter_TypedConfig{TypedConfig: managerCfg},
		}},
	}
	if l.TLS != nil {
		if chain.TransportSocket, err = downstreamTLSSocket(l.TLS); err != nil {
			return nil, err
		}
	}
	matchServerNames(chain, l.ServerNames)
	return validated(&listener.Listener{
		Name:         l.Name,
		Address:      socketAddress(l.Address, l.Port),
		FilterChains: []*listener.FilterChain{chain},
		Metadata:     md,
	})
}

func socketAddress(addr string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address:       addr,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}

// setRouteSource says where the listener's routes come from: one RouteConfiguration by RDS, or
// for a scoped listener (ir.Listener.Scoped) the scopes by SRDS, each naming the
// RouteConfiguration (by RDS) that serves the hosts whose name is its key.
func setRouteSource(m *hcm.HttpConnectionManager, l *ir.Listener) {
	if !l.Scoped {
		m.RouteSpecifier = &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{ConfigSource: adsSource(), RouteConfigName: l.RouteName}}
		return
	}
	m.RouteSpecifier = &hcm.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcm.ScopedRoutes{
		Name:            l.RouteName,
		ScopeKeyBuilder: hostScopeKey,
		RdsConfigSource: adsSource(),
		ConfigSpecifier: &hcm.ScopedRoutes_ScopedRds{ScopedRds: &hcm.ScopedRds{ScopedRdsConfigSource: adsSource()}},
	}}
}

// hostScopeKey selects a scope by the host part of :authority (element 0 when split on ':'),
// so "reviews:9080" and "reviews" both select scope "reviews".
var hostScopeKey = &hcm.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
	Type: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{
		HeaderValueExtractor: &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{
			Name:             ":authority",
			ElementSeparator: ":",
			ExtractType:      &hcm.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_Index{Index: 0},
		},
	},
}}}
