package proxy

import (
	"crypto/tls"
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

const (
	hcmFilterName    = "envoy.filters.network.http_connection_manager"
	routerFilterName = "envoy.filters.http.router"
)

var (
	hcmTypeURL    = typeURLOf(&hcmv3.HttpConnectionManager{})
	routerTypeURL = typeURLOf(&routerv3.Router{})
)

func typeURLOf(m proto.Message) string {
	return "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName())
}

// listenerConfig is a validated Listener: an HTTP listener on one address whose routes come
// from one RouteConfiguration over ADS.
type listenerConfig struct {
	name      string
	addr      string // as xDS gave it, "0.0.0.0:8080"; Options.Rebind maps it to what is bound
	routeName string
	// scoped, when set, says routeName names scoped routes: the route configuration is chosen
	// per request by a key taken from the request (scoped_routes.go).
	scoped  *scopeKeyBuilder
	filters httpFilters
	// tls, when set, is the TLS the listener terminates (tls_downstream.go).
	tls *tls.Config
	// tcp, when set, makes this a TCP proxy listener (tcp_chains.go): no routes, no HTTP
	// filters; each connection is relayed to a cluster by its filter chain's tcp_proxy, after
	// that chain's network RBAC. A TLS passthrough listener has several chains, chosen by SNI.
	// Every listener with the tls_inspector has it: its chains, of either kind, are chosen by
	// the inspector (chains_inspected.go).
	tcp *tcpListenerConfig
	// sni, when set, is the chains that end in the HttpConnectionManager, each with its own
	// certificate, routes and HTTP filters, chosen by SNI (https_chains.go); routeName,
	// scoped, filters and tls are then unused.
	sni *httpsChains
	// raw is the listener's deterministic encoding: equal bytes mean nothing to do, so an
	// unchanged listener is never closed or rebound.
	raw []byte
}

// decodeListener returns nil, nil for a listener with an api_listener: those configure
// proxyless gRPC clients that share the snapshot, and bind nothing here.
func decodeListener(l *listenerv3.Listener) (*listenerConfig, error) {
	if l.GetApiListener() != nil {
		return nil, nil
	}
	if err := validateAll("", l); err != nil {
		return nil, err
	}
	if err := onlyFields("", l, "name", "address", "filter_chains", "stat_prefix", "traffic_direction", "metadata",
		"listener_filters", "listener_filters_timeout", "continue_on_listener_filters_timeout"); err != nil {
		return nil, err
	}
	addr, err := socketAddress("address", l.GetAddress(), false)
	if err != nil {
		return nil, err
	}
	if len(l.GetFilterChains()) == 0 {
		return nil, fieldPath("filter_chains").errorf("one filter chain at least is required")
	}
	if len(l.GetListenerFilters()) > 0 || len(l.GetFilterChains()) > 1 || l.GetFilterChains()[0].GetFilterChainMatch() != nil {
		// Chains chosen by SNI: TLS passthrough, termination, or both (chains_inspected.go).
		tcp, sni, err := decodeMatchedChains(l)
		if err != nil {
			return nil, err
		}
		raw, err := deterministic.Marshal(l)
		if err != nil {
			return nil, err
		}
		return &listenerConfig{name: l.GetName(), addr: addr, tcp: tcp, sni: sni, raw: raw}, nil
	}
	p := fieldPath("filter_chains").index(0)
	fc := l.GetFilterChains()[0]
	if err := onlyFields(p, fc, "filters", "name", "transport_socket"); err != nil {
		return nil, err
	}
	var serverTLS *tls.Config
	if ts := fc.GetTransportSocket(); ts != nil {
		if serverTLS, err = decodeDownstreamTLS(p.field("transport_socket"), ts); err != nil {
			return nil, err
		}
	}
	netRBAC, p, f, last, err := decodeChainFilters(p, fc)
	if err != nil {
		return nil, err
	}
	tc := f.GetTypedConfig()
	if tc != nil && tc.GetTypeUrl() == tcpProxyTypeURL {
		tcp, err := decodeTCPProxy(p.field("typed_config"), tc)
		if err != nil {
			return nil, err
		}
		if netRBAC != nil {
			netRBAC.listener = l.GetName()
			netRBAC.port = l.GetAddress().GetSocketAddress().GetPortValue()
		}
		raw, err := deterministic.Marshal(l)
		if err != nil {
			return nil, err
		}
		return &listenerConfig{name: l.GetName(), addr: addr, tls: serverTLS, tcp: singleTCPChain(tcp, netRBAC), raw: raw}, nil
	}
	routeName, scoped, filters, err := decodeHCMFilter(p, l, f, last)
	if err != nil {
		return nil, err
	}
	raw, err := deterministic.Marshal(l)
	if err != nil {
		return nil, err
	}
	return &listenerConfig{name: l.GetName(), addr: addr, routeName: routeName, scoped: scoped, filters: filters, tls: serverTLS, raw: raw}, nil
}

// decodeHCMFilter decodes a chain's terminal filter f (at p, index last of the chain's
// filters) as the HttpConnectionManager, alone in its chain, and names its filters' stats
// after the listener.
func decodeHCMFilter(p fieldPath, l *listenerv3.Listener, f *listenerv3.Filter, last int) (string, *scopeKeyBuilder, httpFilters, error) {
	var none httpFilters
	if last > 0 {
		return "", nil, none, p.errorf("the %s filter is supported only before %s", netRBACFilterName, tcpProxyFilterName)
	}
	tc := f.GetTypedConfig()
	if tc == nil || tc.GetTypeUrl() != hcmTypeURL {
		return "", nil, none, p.errorf("unsupported network filter %q (%s): only %s and %s are supported", f.GetName(), tc.GetTypeUrl(), hcmFilterName, tcpProxyFilterName)
	}
	p = p.field("typed_config")
	var hcm hcmv3.HttpConnectionManager
	if err := tc.UnmarshalTo(&hcm); err != nil {
		return "", nil, none, p.errorf("%v", err)
	}
	routeName, scoped, filters, err := decodeHCM(p, &hcm)
	if err != nil {
		return "", nil, none, err
	}
	if filters.jwt != nil {
		filters.jwt.listener = l.GetName()
	}
	if filters.rbac != nil {
		filters.rbac.listener = l.GetName()
		filters.rbac.port = l.GetAddress().GetSocketAddress().GetPortValue()
	}
	return routeName, scoped, filters, nil
}

// decodeChainFilters reads a filter chain's network filters: the leading network RBAC filters
// (decodeNetworkFilters) and the terminal filter, which the caller decodes by its type, with
// its field path and index.
func decodeChainFilters(p fieldPath, fc *listenerv3.FilterChain) (rbac *rbacChain, fp fieldPath, f *listenerv3.Filter, last int, err error) {
	rbac, last, err = decodeNetworkFilters(p.field("filters"), fc.GetFilters())
	if err != nil {
		return nil, "", nil, 0, err
	}
	fp = p.field("filters").index(last)
	f = fc.GetFilters()[last]
	if err := onlyFields(fp, f, "name", "typed_config"); err != nil {
		return nil, "", nil, 0, err
	}
	return rbac, fp, f, last, nil
}

// decodeHCM accepts the HttpConnectionManager shape signalbox emits: routes over RDS (or scoped
// routes over SRDS) from ADS, the jwt_authn, rbac, cors and fault filters, the router last,
// WebSocket upgrades (upgrade.go), use_remote_address and generate_request_id (forwardedHeaders),
// the Server and x-forwarded-client-cert settings and the router's suppress_envoy_headers
// (hcm_headers.go), path normalisation (path_normalize.go), HTTP/1.0 (hcm_codec.go), strip_any_host_port
// (domains.go). It returns the route config (or scoped routes) name.
func decodeHCM(p fieldPath, m *hcmv3.HttpConnectionManager) (string, *scopeKeyBuilder, httpFilters, error) {
	var hf httpFilters
	if err := validateAll(p, m); err != nil {
		return "", nil, hf, err
	}
	if err := onlyFields(p, m, "stat_prefix", "codec_type", "rds", "scoped_routes", "http_filters", "upgrade_configs", "use_remote_address", "generate_request_id",
		"server_name", "server_header_transformation", "forward_client_cert_details", "set_current_client_cert_details", "preserve_external_request_id",
		"normalize_path", "merge_slashes", "path_with_escaped_slashes_action", "http_protocol_options", "strip_any_host_port"); err != nil {
		return "", nil, hf, err
	}
	http10, err := decodeHTTP10(p, m)
	if err != nil {
		return "", nil, hf, err
	}
	hf.http10 = http10
	paths, err := decodePathNormalization(p, m)
	if err != nil {
		return "", nil, hf, err
	}
	hf.paths = paths
	hdr, err := decodeConnManagerHeaders(p, m)
	if err != nil {
		return "", nil, hf, err
	}
	hf.hdr = hdr
	websocket, err := decodeUpgradeConfigs(p.field("upgrade_configs"), m.GetUpgradeConfigs())
	if err != nil {
		return "", nil, hf, err
	}
	hf.websocket = websocket
	hf.useRemoteAddress = m.GetUseRemoteAddress().GetValue()
	hf.stripAnyHostPort = m.GetStripAnyHostPort()
	hf.noRequestID = m.GetGenerateRequestId() != nil && !m.GetGenerateRequestId().GetValue()
	switch m.GetCodecType() {
	case hcmv3.HttpConnectionManager_AUTO, hcmv3.HttpConnectionManager_HTTP1, hcmv3.HttpConnectionManager_HTTP2:
	default:
		return "", nil, hf, p.field("codec_type").errorf("%s is not supported", m.GetCodecType())
	}
	routeName, scoped, err := decodeRouteSource(p, m)
	if err != nil {
		return "", nil, hf, err
	}
	router := false
	// RBAC runs before CORS and fault (forward.go); a chain that orders them otherwise is
	// refused rather than run in another order.
	corsOrFault := false
	var chain rbacChain
	filters := m.GetHttpFilters()
	for i, f := range filters {
		fp := p.field("http_filters").index(i)
		if err := onlyFields(fp, f, "name", "typed_config", "is_optional"); err != nil {
			return "", nil, hf, err
		}
		tc := f.GetTypedConfig()
		switch {
		case isRouter(f):
			if i != len(filters)-1 {
				return "", nil, hf, fp.errorf("the router filter must be the last http filter")
			}
			suppress, err := decodeRouter(fp.field("typed_config"), tc)
			if err != nil {
				return "", nil, hf, err
			}
			hf.hdr.suppressEnvoyHeaders = suppress
			router = true
		case tc.GetTypeUrl() == jwtTypeURL || f.GetName() == jwtFilterName:
			// Enforced even when marked optional, as RBAC is. It runs before RBAC, which reads
			// the payloads it verified; Istio orders them so.
			if len(chain.filters) > 0 || corsOrFault {
				return "", nil, hf, fp.errorf("the jwt_authn filter must come before the %s, %s and %s filters", rbacFilterName, corsFilterName, faultFilterName)
			}
			if hf.jwt != nil {
				return "", nil, hf, fp.errorf("only one jwt_authn filter is supported")
			}
			jf, err := decodeJWTFilter(fp.field("typed_config"), tc)
			if err != nil {
				return "", nil, hf, err
			}
			hf.jwt = jf
		case tc.GetTypeUrl() == rbacTypeURL || f.GetName() == rbacFilterName:
			// Before the is_optional case: access rules are enforced whether or not the
			// filter is marked optional, and never skipped.
			if corsOrFault {
				return "", nil, hf, fp.errorf("the RBAC filter must come before the %s and %s filters", corsFilterName, faultFilterName)
			}
			if err := decodeRBACFilter(fp.field("typed_config"), tc, &chain); err != nil {
				return "", nil, hf, err
			}
		case tc.GetTypeUrl() == corsTypeURL || (tc == nil && f.GetName() == corsFilterName):
			if tc != nil {
				var c corsv3.Cors
				if err := tc.UnmarshalTo(&c); err != nil {
					return "", nil, hf, fp.field("typed_config").errorf("%v", err)
				}
				if err := onlyFields(fp.field("typed_config"), &c); err != nil {
					return "", nil, hf, err
				}
			}
			hf.cors, corsOrFault = true, true
		case tc.GetTypeUrl() == faultTypeURL:
			fault, err := decodeFaultAny(fp.field("typed_config"), tc)
			if err != nil {
				return "", nil, hf, err
			}
			hf.fault, corsOrFault = fault, true
		case f.GetIsOptional():
			// Envoy skips an optional filter it does not know; so do we.
		default:
			return "", nil, hf, fp.errorf("unsupported http filter %q (%s): only %s, %s, %s, %s and %s are supported",
				f.GetName(), tc.GetTypeUrl(), jwtFilterName, rbacFilterName, corsFilterName, faultFilterName, routerFilterName)
		}
	}
	if len(chain.filters) > 0 {
		hf.rbac = &chain
	}
	if !router {
		return "", nil, hf, p.field("http_filters").errorf("the router filter (%s) is required", routerFilterName)
	}
	return routeName, scoped, hf, nil
}

func isRouter(hf *hcmv3.HttpFilter) bool {
	if tc := hf.GetTypedConfig(); tc != nil {
		return tc.GetTypeUrl() == routerTypeURL
	}
	return hf.GetName() == routerFilterName
}

func decodeRouter(p fieldPath, tc *anypb.Any) (suppressEnvoyHeaders bool, err error) {
	if tc == nil {
		return false, nil
	}
	var r routerv3.Router
	if err := tc.UnmarshalTo(&r); err != nil {
		return false, p.errorf("%v", err)
	}
	if err := validateAll(p, &r); err != nil {
		return false, err
	}
	return r.GetSuppressEnvoyHeaders(), onlyFields(p, &r, "suppress_envoy_headers")
}

// adsConfigSource accepts only "over this same ADS stream", the one source the proxy has.
func adsConfigSource(p fieldPath, cs *core.ConfigSource) error {
	if cs == nil {
		return p.errorf("required")
	}
	if err := onlyFields(p, cs, "ads", "resource_api_version", "initial_fetch_timeout"); err != nil {
		return err
	}
	if cs.GetAds() == nil {
		return p.field("ads").errorf("required: only ADS config sources are supported")
	}
	switch v := cs.GetResourceApiVersion(); v {
	case core.ApiVersion_AUTO, core.ApiVersion_V3:
	default:
		return p.field("resource_api_version").errorf("%s is not supported", v)
	}
	return nil
}

func (l *listenerConfig) String() string {
	if l.sni != nil && len(l.tcp.clusters()) > 0 {
		return fmt.Sprintf("%s(%s -> %v, tcp %v)", l.name, l.addr, l.sni.routeNames(), l.tcp.clusters())
	}
	if l.tcp != nil {
		return fmt.Sprintf("%s(%s -> tcp %v)", l.name, l.addr, l.tcp.clusters())
	}
	if l.sni != nil {
		return fmt.Sprintf("%s(%s -> %v)", l.name, l.addr, l.sni.routeNames())
	}
	return fmt.Sprintf("%s(%s -> %s)", l.name, l.addr, l.routeName)
}

// decodeRouteSource reads where the routes come from: one RouteConfiguration by RDS, or scopes
// by SRDS (their route configurations by RDS), both over ADS.
func decodeRouteSource(p fieldPath, m *hcmv3.HttpConnectionManager) (string, *scopeKeyBuilder, error) {
	if sr := m.GetScopedRoutes(); sr != nil {
		return decodeScopedRoutes(p.field("scoped_routes"), sr)
	}
	rds := m.GetRds()
	if rds == nil {
		return "", nil, p.field("rds").errorf("required: routes must come from RDS or scoped RDS")
	}
	rp := p.field("rds")
	if err := onlyFields(rp, rds, "config_source", "route_config_name"); err != nil {
		return "", nil, err
	}
	if err := adsConfigSource(rp.field("config_source"), rds.GetConfigSource()); err != nil {
		return "", nil, err
	}
	if rds.GetRouteConfigName() == "" {
		return "", nil, rp.field("route_config_name").errorf("required")
	}
	return rds.GetRouteConfigName(), nil, nil
}
