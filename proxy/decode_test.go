package proxy

import (
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hcmOf edits the HttpConnectionManager inside a test listener.
func hcmOf(l *listenerv3.Listener, edit func(*hcmv3.HttpConnectionManager)) *listenerv3.Listener {
	var m hcmv3.HttpConnectionManager
	l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&m)
	edit(&m)
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&m)}
	return l
}

func TestDecodeListenerRejects(t *testing.T) {
	base := func() *listenerv3.Listener { return httpListener("l", "0.0.0.0", 8080, "r") }
	for want, l := range map[string]*listenerv3.Listener{
		"filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules": func() *listenerv3.Listener {
			l := base()
			l.FilterChains = append(l.FilterChains, l.FilterChains[0])
			return l
		}(),
		"filter_chains[0].transport_socket.typed_config: type \"\" is not supported": func() *listenerv3.Listener {
			l := base()
			l.FilterChains[0].TransportSocket = &core.TransportSocket{Name: "tls"}
			return l
		}(),
		`filter_chains[0].transport_socket: required: a listener whose envoy.filters.network.http_connection_manager chains are chosen by SNI must terminate TLS`: func() *listenerv3.Listener {
			l := base()
			l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: "envoy.filters.listener.tls_inspector"}}
			return l
		}(),
		`unsupported network filter "envoy.filters.network.tcp_proxy"`: func() *listenerv3.Listener {
			l := base()
			l.FilterChains[0].Filters[0] = &listenerv3.Filter{Name: "envoy.filters.network.tcp_proxy",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}}
			return l
		}(),
		`http_filters[0]: unsupported http filter "envoy.filters.http.cors"`: hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "envoy.filters.http.cors", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}}}, m.HttpFilters...)
		}),
		"http_filters[0]: the router filter must be the last": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.HttpFilters = append(m.HttpFilters, &hcmv3.HttpFilter{Name: "x", IsOptional: true, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}})
		}),
		"typed_config.route_config: field not supported": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.RouteSpecifier = &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{Name: "inline"}}
		}),
		"rds.config_source.path: field not supported": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.GetRds().ConfigSource = &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Path{Path: "routes.yaml"}}
		}),
		// Trusted hops would change which X-Forwarded-For entry is the client: refused, not ignored.
		"typed_config.xff_num_trusted_hops: field not supported": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.UseRemoteAddress = wrapperspb.Bool(true)
			m.XffNumTrustedHops = 1
		}),
		// Unescaping %2F would change what routes and RBAC see: refused, not ignored.
		"typed_config.path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD is not supported (only KEEP_UNCHANGED)": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD
		}),
		"typed_config: invalid HttpConnectionManager.ServerName": hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
			m.ServerName = "bad\r\nname"
		}),
		`address.socket_address.address: "localhost" is not an IP address`: func() *listenerv3.Listener {
			l := base()
			l.Address.GetSocketAddress().Address = "localhost"
			return l
		}(),
	} {
		_, err := decodeListener(l)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
	}

	// An optional filter the proxy does not know is skipped, as Envoy skips it.
	ok := hcmOf(base(), func(m *hcmv3.HttpConnectionManager) {
		m.HttpFilters = append([]*hcmv3.HttpFilter{{Name: "envoy.filters.http.wasm", IsOptional: true,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}}}, m.HttpFilters...)
	})
	if _, err := decodeListener(ok); err != nil {
		t.Errorf("optional unknown filter: %v", err)
	}
}

func TestDecodeRouteRejects(t *testing.T) {
	rc := func(r *routev3.Route) *routev3.RouteConfiguration {
		return routeConfiguration("r", vhost("v", []string{"*"}, r))
	}
	idle := prefixRoute("/", "c")
	idle.GetRoute().IdleTimeout = durationpb.New(time.Second)
	retry := prefixRoute("/", "c")
	retry.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx,bogus"}
	zero := weightedRoute("/", "a", 0, "b", 0)
	badRegex := regexRoute(`(`, "c")
	rangeMatch := prefixRoute("/", "c")
	rangeMatch.Match.Headers = []*routev3.HeaderMatcher{{Name: "x", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 1, End: 2}}}}
	for want, cfg := range map[string]*routev3.RouteConfiguration{
		"virtual_hosts[0].routes[0].route.idle_timeout: field not supported":                               rc(idle),
		`virtual_hosts[0].routes[0].route.retry_policy.retry_on: retry condition "bogus" is not supported`: rc(retry),
		"weighted_clusters.clusters: the sum of weights must be greater than zero":                         rc(zero),
		"match.safe_regex.regex: invalid RE2 regex":                                                        rc(badRegex),
		"match.headers[0].range_match: field not supported":                                                rc(rangeMatch),
		"virtual_hosts[1].domains[0]: domain \"*\" is also listed by virtual host \"v\"": routeConfiguration("r",
			vhost("v", []string{"*"}, prefixRoute("/", "c")), vhost("w", []string{"*"}, prefixRoute("/", "c"))),
		"virtual_hosts[0].cors: field not supported": func() *routev3.RouteConfiguration {
			c := rc(prefixRoute("/", "c"))
			c.VirtualHosts[0].Cors = &routev3.CorsPolicy{}
			return c
		}(),
		"request_headers_to_add[0].header.key: ':'-prefixed or host headers may not be modified": func() *routev3.RouteConfiguration {
			c := rc(prefixRoute("/", "c"))
			c.RequestHeadersToAdd = []*core.HeaderValueOption{{Header: &core.HeaderValue{Key: ":path", Value: "v"}}}
			return c
		}(),
	} {
		_, err := decodeRouteConfiguration(cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
	}
}

func TestDecodeClusterAndEndpoints(t *testing.T) {
	strict := edsCluster("c")
	strict.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_ORIGINAL_DST}
	maglev := edsCluster("c")
	maglev.LbPolicy = clusterv3.Cluster_CLUSTER_PROVIDED
	breakers := edsCluster("c")
	breakers.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{RetryBudget: &clusterv3.CircuitBreakers_Thresholds_RetryBudget{}}}}
	autoProto := withProtocol(edsCluster("c"), &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_AutoConfig{AutoConfig: &httpv3.HttpProtocolOptions_AutoHttpConfig{}},
	})
	tunedH2 := withProtocol(edsCluster("c"), &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{
				MaxConcurrentStreams: wrapperspb.UInt32(10),
			}},
		}},
	})
	for want, c := range map[string]*clusterv3.Cluster{
		`typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].auto_config: field not supported`: autoProto,
		"explicit_http_config.http2_protocol_options.max_concurrent_streams: field not supported":                                     tunedH2,
		"type: ORIGINAL_DST is not supported":                              strict,
		"lb_policy: CLUSTER_PROVIDED is not supported":                     maglev,
		"circuit_breakers.thresholds[0].retry_budget: field not supported": breakers,
	} {
		_, err := decodeCluster(c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got error %v, want one containing %q", err, want)
		}
	}

	// STATIC with inline endpoints; unhealthy endpoints and lower priorities take no traffic.
	static := &clusterv3.Cluster{Name: "s", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "s", Endpoints: []*endpointv3.LocalityLbEndpoints{
			{Priority: 1, LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint("10.0.0.9", 80)}},
			{LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint("10.0.0.1", 80), lbEndpoint("10.0.0.2", 80)}},
		}}}
	static.LoadAssignment.Endpoints[1].LbEndpoints[1].HealthStatus = core.HealthStatus_UNHEALTHY
	cfg, err := decodeCluster(static)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.static.eps) != 1 || cfg.static.eps[0].addr != "10.0.0.1:80" {
		t.Errorf("static endpoints: %+v", cfg.static.eps)
	}

	drop := &endpointv3.ClusterLoadAssignment{ClusterName: "c", Policy: &endpointv3.ClusterLoadAssignment_Policy{
		DropOverloads: []*endpointv3.ClusterLoadAssignment_Policy_DropOverload{{Category: "x", DropPercentage: &typev3.FractionalPercent{Numerator: 1}}},
	}}
	if _, err := decodeClusterLoadAssignment(drop); err == nil || !strings.Contains(err.Error(), "policy: field not supported") {
		t.Errorf("drop_overloads: %v", err)
	}
}
