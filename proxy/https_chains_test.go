package proxy

import (
	"slices"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// Builders of the HTTPS listener the compiler emits for a Gateway whose HTTPS servers on one
// port present different certificates: a tls_inspector, and one chain per server, each with
// its own DownstreamTlsContext and HttpConnectionManager.

func inlineBytes(b []byte) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
}

// httpsListener is a listener on 0.0.0.0:443 with the tls_inspector and chains.
func httpsListener(name string, chains ...*listenerv3.FilterChain) *listenerv3.Listener {
	l := httpListener(name, "0.0.0.0", 443, "unused")
	l.ListenerFilters = []*listenerv3.ListenerFilter{tlsInspectorFilter()}
	l.FilterChains = chains
	return l
}

// httpsChain is a chain for names (none: the catch-all) presenting pki's server certificate
// with ALPN h2 and http/1.1, then an HCM with routes routeName and filters (the router alone
// when none); edit, when set, changes its DownstreamTlsContext.
func httpsChain(pki *testPKI, names []string, routeName string, edit func(*tlsv3.DownstreamTlsContext), filters ...*hcmv3.HttpFilter) *listenerv3.FilterChain {
	fc := httpListener("x", "0.0.0.0", 1, routeName, filters...).FilterChains[0]
	d := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{CertificateChain: inlineBytes(pki.serverCertPEM), PrivateKey: inlineBytes(pki.serverKeyPEM)}},
		AlpnProtocols:   []string{"h2", "http/1.1"},
	}}
	if edit != nil {
		edit(d)
	}
	fc.TransportSocket = &core.TransportSocket{Name: tlsTransportSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(d)}}
	if len(names) > 0 {
		fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: names}
	}
	return fc
}

// gatewayCertsListener is the shape of the compiler's gatewaycerts golden: shop, org (two
// names) and a catch-all, each with its certificate and routes; shop's HCM has RBAC.
func gatewayCertsListener(shop, org, def *testPKI) *listenerv3.Listener {
	deny := rbacHTTPFilter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"no-private": policy(perms(pathPerm(prefixSM("/private"))), ids(anyID))})
	return httpsListener("0.0.0.0_443",
		httpsChain(shop, names("shop.example.com"), "https.443.https-shop.public.edge", nil, deny, routerFilter()),
		httpsChain(org, names("blog.example.org", "WWW.Example.org"), "https.443.https-blog.public.edge", nil),
		httpsChain(def, nil, "https.443.https-default.public.edge", nil),
	)
}

func TestDecodeHTTPSChains(t *testing.T) {
	shop, org, def := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org"), newPKI(t, "default.example.net")
	lc, err := decodeListener(gatewayCertsListener(shop, org, def))
	if err != nil {
		t.Fatal(err)
	}
	if lc.sni == nil || lc.tcp == nil || lc.tls != nil || len(lc.sni.chains) != 3 || len(lc.tcp.chains) != 3 {
		t.Fatalf("decoded %+v", lc)
	}
	want := []struct {
		names []string
		route string
		rbac  bool
	}{
		{names("shop.example.com"), "https.443.https-shop.public.edge", true},
		{names("blog.example.org", "www.example.org"), "https.443.https-blog.public.edge", false},
		{nil, "https.443.https-default.public.edge", false},
	}
	for i, w := range want {
		c := lc.sni.chains[i]
		if !slices.Equal(c.serverNames, w.names) || c.routeName != w.route || (c.filters.rbac != nil) != w.rbac || c.tls == nil || len(c.tls.Certificates) != 1 ||
			!slices.Equal(c.tls.NextProtos, []string{"h2", "http/1.1"}) {
			t.Errorf("chain %d: %+v", i, c)
		}
	}
	if r := lc.sni.chains[0].filters.rbac; r.listener != "0.0.0.0_443" || r.port != 443 {
		t.Errorf("RBAC stats named %q port %d", r.listener, r.port)
	}
	for sni, want := range map[string]int{"shop.example.com": 0, "www.example.org": 1, "blog.example.org": 1, "other.example.com": 2, "": 2} {
		if got := lc.sni.match(sni); got != want {
			t.Errorf("SNI %q: chain %d, want %d", sni, got, want)
		}
	}
	if got := lc.sni.routeNames(); len(got) != 3 {
		t.Errorf("route names %v", got)
	}
}

// TestDecodeHTTPSChainsNACK: what cannot be honoured on an HTTPS listener with SNI-chosen
// chains is refused, naming the field.
func TestDecodeHTTPSChainsNACK(t *testing.T) {
	shop, org := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org")
	base := func(edit func(l *listenerv3.Listener)) *listenerv3.Listener {
		l := httpsListener("gw", httpsChain(shop, names("shop.example.com"), "shop", nil), httpsChain(org, nil, "org", nil))
		edit(l)
		return l
	}
	for _, tc := range []struct {
		name string
		l    *listenerv3.Listener
		want string
	}{
		{"tcp_proxy chain beside HCM chains without tls_inspector", base(func(l *listenerv3.Listener) {
			l.ListenerFilters = nil
			l.FilterChains[1] = sniChain(toTCPCluster("c"), nil)
		}), `filter_chains[1].filters[0]: "envoy.filters.network.tcp_proxy": mixing filter chains that end in envoy.filters.network.http_connection_manager with chains that do not`},
		{"server names without tls_inspector", base(func(l *listenerv3.Listener) {
			l.ListenerFilters = nil
		}), "filter_chains[0].filter_chain_match.server_names: needs the envoy.filters.listener.tls_inspector listener filter"},
		{"plain-text HCM chain", base(func(l *listenerv3.Listener) {
			l.FilterChains[1].TransportSocket = nil
		}), "filter_chains[1].transport_socket: required: a listener whose envoy.filters.network.http_connection_manager chains are chosen by SNI must terminate TLS on each"},
		{"duplicate server name", base(func(l *listenerv3.Listener) {
			l.FilterChains[1].FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: names("Shop.Example.com")}
		}), `filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules: server name "shop.example.com", as filter_chains[0]`},
		{"two catch-alls", base(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch = nil
		}), "filter_chains[1].filter_chain_match: multiple filter chains with the same matching rules: no server_names (the catch-all), as filter_chains[0]"},
		{"bad certificate", base(func(l *listenerv3.Listener) {
			l.FilterChains[1] = httpsChain(org, nil, "org", func(d *tlsv3.DownstreamTlsContext) { d.CommonTlsContext.TlsCertificates = nil })
		}), "filter_chains[1].transport_socket.typed_config.common_tls_context.tls_certificates: a server needs a certificate"},
		{"network RBAC before the HCM", base(func(l *listenerv3.Listener) {
			fs := l.FilterChains[1].Filters
			l.FilterChains[1].Filters = append([]*listenerv3.Filter{netRBACFilter(netRBACRules(rbacv3.RBAC_DENY, nil))}, fs...)
		}), "filter_chains[1].filters[1]: the envoy.filters.network.rbac filter is supported only before envoy.filters.network.tcp_proxy"},
		{"unsupported match", base(func(l *listenerv3.Listener) {
			l.FilterChains[0].FilterChainMatch.TransportProtocol = "tls"
		}), "filter_chains[0].filter_chain_match.transport_protocol: field not supported"},
		{"HCM without routes", base(func(l *listenerv3.Listener) {
			l.FilterChains[0].Filters = httpListener("h", "0.0.0.0", 1, "").FilterChains[0].Filters
		}), "filter_chains[0].filters[0].typed_config.rds.route_config_name: required"},
	} {
		_, err := decodeListener(tc.l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
