package proxy

import (
	"slices"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Builders of the TLS passthrough listener shape: a tls_inspector listener filter, and one
// filter chain per set of server names, each [network RBAC]*, tcp_proxy.

func tlsInspectorFilter() *listenerv3.ListenerFilter {
	return &listenerv3.ListenerFilter{Name: tlsInspectorName,
		ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{})}}
}

func passthroughListener(name string, port uint32, chains ...*listenerv3.FilterChain) *listenerv3.Listener {
	l := tcpProxyListener(name, port, toTCPCluster("unused"))
	l.ListenerFilters = []*listenerv3.ListenerFilter{tlsInspectorFilter()}
	l.FilterChains = chains
	return l
}

// sniChain is a filter chain for names (none: the catch-all): the RBAC filters, then tp.
func sniChain(tp *tcpv3.TcpProxy, names []string, rbacs ...*listenerv3.Filter) *listenerv3.FilterChain {
	fc := tcpProxyListener("x", 1, tp).FilterChains[0]
	fc.Filters = append(rbacs, fc.Filters...)
	if len(names) > 0 {
		fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: names}
	}
	return fc
}

func names(n ...string) []string { return n }

func TestDecodePassthrough(t *testing.T) {
	l := passthroughListener("pt", 443,
		sniChain(toTCPCluster("a"), names("a.example.com", "UPPER.Example.com")),
		sniChain(toTCPWeighted("wb", 1, "wb2", 3), names("*.b.example.com")),
		sniChain(toTCPCluster("we"), names("*.example.com")),
		sniChain(toTCPCluster("d"), nil, netRBACFilter(netRBACRules(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{
			"p": policy(perms(anyPerm), ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{}}}))})),
		),
	)
	lc, err := decodeListener(l)
	if err != nil {
		t.Fatal(err)
	}
	tc := lc.tcp
	if tc == nil || tc.inspector == nil || tc.inspector.timeout != defaultListenerFiltersTimeout || tc.inspector.continueOnTimeout || len(tc.chains) != 4 {
		t.Fatalf("decoded %+v", tc)
	}
	if got := tc.chains[0].serverNames; !slices.Equal(got, []string{"a.example.com", "upper.example.com"}) {
		t.Errorf("server names %q, want them lower-cased", got)
	}
	if got := tc.clusters(); !slices.Equal(got, []string{"a", "wb", "wb2", "we", "d"}) {
		t.Errorf("clusters %q", got)
	}
	if rb := tc.chains[3].rbac; rb == nil || rb.listener != "pt" || rb.port != 443 {
		t.Fatalf("catch-all RBAC %+v", rb)
	}
	// No TLS peer on a passthrough connection: authenticated matches nothing.
	if rb := tc.chains[3].rbac; rb.filters[0].rules.policies[0].principals[0].kind != rbNot {
		t.Errorf("authenticated kept on a passthrough chain: %+v", rb.filters[0].rules.policies[0].principals[0])
	}
	for sni, want := range map[string]int{
		"a.example.com": 0, "upper.example.com": 0, "x.b.example.com": 1, "x.y.b.example.com": 1,
		"b.example.com": 2, "x.example.com": 2, "example.com": 3, "": 3, "a.example.org": 3,
		"com": 3, "x.example.com.": 3, // as Envoy: no wildcard ends in a dot
		".example.com": 2, // as Envoy: the exact lookup finds the wildcard's key
	} {
		if got := tc.match(sni); got != want {
			t.Errorf("match(%q) = %d, want %d", sni, got, want)
		}
	}

	l.ListenerFiltersTimeout = durationpb.New(200 * time.Millisecond)
	l.ContinueOnListenerFiltersTimeout = true
	l.FilterChains = l.FilterChains[:1]
	if lc, err = decodeListener(l); err != nil || lc.tcp.inspector.timeout != 200*time.Millisecond || !lc.tcp.inspector.continueOnTimeout {
		t.Fatalf("timeout: %v %+v", err, lc)
	}
	// Without a catch-all, a name no chain has matches nothing.
	if got := lc.tcp.match("c.example.com"); got != -1 {
		t.Errorf("no catch-all: match = %d, want -1", got)
	}
	wild := passthroughListener("pt", 443, sniChain(toTCPCluster("c"), names("*.com")))
	if lc, err = decodeListener(wild); err != nil || lc.tcp.match("a.b.com") != 0 || lc.tcp.match("com") != -1 {
		t.Fatalf("*.com: %v", err)
	}
}

func TestDecodePassthroughNACK(t *testing.T) {
	one := func(edit func(*listenerv3.Listener)) *listenerv3.Listener {
		l := passthroughListener("pt", 443, sniChain(toTCPCluster("a"), names("a.example.com")), sniChain(toTCPCluster("d"), nil))
		edit(l)
		return l
	}
	const m0 = "filter_chains[0].filter_chain_match"
	for _, tc := range []struct {
		name string
		l    *listenerv3.Listener
		want string
	}{
		{"other listener filter", one(func(l *listenerv3.Listener) {
			l.ListenerFilters = append(l.ListenerFilters, &listenerv3.ListenerFilter{Name: "envoy.filters.listener.http_inspector",
				ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}})
		}), `listener_filters[1]: unsupported listener filter "envoy.filters.listener.http_inspector"`},
		{"listener filter by another name", one(func(l *listenerv3.Listener) {
			l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: "envoy.filters.listener.original_dst"}}
		}), `listener_filters[0]: unsupported listener filter "envoy.filters.listener.original_dst"`},
		{"inspector config", one(func(l *listenerv3.Listener) {
			l.ListenerFilters[0].ConfigType = &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{
				MaxClientHelloSize: wrapperspb.UInt32(1024)})}
		}), "listener_filters[0].typed_config.max_client_hello_size: field not supported"},
		{"disabled listener filter", one(func(l *listenerv3.Listener) {
			l.ListenerFilters[0].FilterDisabled = &listenerv3.ListenerFilterChainMatchPredicate{
				Rule: &listenerv3.ListenerFilterChainMatchPredicate_AnyMatch{AnyMatch: true}}
		}), "listener_filters[0].filter_disabled: field not supported"},
		{"match on port", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch.DestinationPort = wrapperspb.UInt32(443)
		}), m0 + ".destination_port: field not supported"},
		{"match on transport protocol", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch.TransportProtocol = "tls"
		}), m0 + ".transport_protocol: field not supported"},
		{"same name twice", one(func(l *listenerv3.Listener) {
			l.FilterChains[1].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: names("b.example.com", "A.example.com")}
		}), `filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules: server name "a.example.com", as filter_chains[0]`},
		{"same wildcard twice", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch.ServerNames = names("*.example.com")
			l.FilterChains[1].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: names("*.example.com")}
		}), `filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules: server name ".example.com"`},
		{"two catch-alls", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch = nil
		}), "filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules: no server_names (the catch-all), as filter_chains[0]"},
		{"partial wildcard", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch.ServerNames = names("a.example.com", "foo*.example.com")
		}), m0 + `.server_names[1]: partial wildcard "foo*.example.com"`},
		{"TLS termination by SNI", one(func(l *listenerv3.Listener) {
			l.FilterChains[0].TransportSocket = &core.TransportSocket{Name: tlsTransportSocketName}
		}), "filter_chains[0].transport_socket: terminating TLS before envoy.filters.network.tcp_proxy on a listener whose chains are chosen by SNI"},
		{"plain-text HTTP chain", one(func(l *listenerv3.Listener) {
			l.FilterChains[1].Filters = httpListener("h", "0.0.0.0", 443, "r").FilterChains[0].Filters
		}), "filter_chains[1].transport_socket: required: a listener whose envoy.filters.network.http_connection_manager chains are chosen by SNI must terminate TLS on each"},
		{"server names without tls_inspector", one(func(l *listenerv3.Listener) {
			l.ListenerFilters = nil
		}), m0 + ".server_names: needs the envoy.filters.listener.tls_inspector listener filter"},
		{"RBAC after tcp_proxy", one(func(l *listenerv3.Listener) {
			fs := l.FilterChains[0].Filters
			l.FilterChains[0].Filters = append(fs, netRBACFilter(netRBACRules(rbacv3.RBAC_DENY, nil)))
		}), "filter_chains[0].filters[0]: unsupported network filter"},
		{"default filter chain", one(func(l *listenerv3.Listener) {
			l.DefaultFilterChain = l.FilterChains[1]
		}), "default_filter_chain: field not supported"},
	} {
		_, err := decodeListener(tc.l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
