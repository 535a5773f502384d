package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
)

// countingBackend is a real backend that counts the requests reaching it.
func countingBackend(t *testing.T, name string, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRBACServes drives real HTTP through a proxy listener on 127.0.0.1:0 configured as the
// compiler emits it: a DENY filter, then an ALLOW filter, then cors and the router. The
// listener says port 15001, so destination_port must match the configured port, not the
// bound one.
func TestRBACServes(t *testing.T) {
	var hits atomic.Int64
	b := countingBackend(t, "b", &hits)
	r := prefixRoute("/", "b")
	r.TypedPerFilterConfig = map[string]*anypb.Any{corsFilterName: mustAny(&routev3.CorsPolicy{
		AllowOriginStringMatch: []*matcherv3.StringMatcher{exact("https://app.example")}, AllowMethods: "GET"})}
	routes := routeConfiguration("r", vhost("v", []string{"svc"}, r))
	deny := rbacHTTPFilter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{
		"no-admin": policy(perms(pathPerm(prefixSM("/admin"))), ids(anyID)),
		"no-bots":  policy(perms(anyPerm), ids(hdrPrincipal("user-agent", prefixSM("bot")))),
	})
	allow := rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{
		"users": policy(
			perms(&rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(
				&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: 15001}},
				&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("127.0.0.0", 8)}},
				headerPerm(":method", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
					SafeRegex: &matcherv3.RegexMatcher{Regex: "GET|OPTIONS"}}}),
			)}}}),
			ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids(
				remoteID("127.0.0.1", 32),
				&rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: &routev3.HeaderMatcher{Name: "x-user",
					HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}},
			)}}})),
	})
	_, p, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}},
		filters: []*hcmv3.HttpFilter{deny, allow, corsFilter()}})
	if strings.HasSuffix(addr, ":15001") {
		t.Fatalf("listener bound at its configured port %s: the test needs a rebind", addr)
	}

	denied := func(name string, resp *http.Response) {
		t.Helper()
		body := resp.Header.Get("X-Test-Body") // do reads the body
		if resp.StatusCode != http.StatusForbidden || string(body) != "RBAC: access denied" ||
			resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("X-Backend") != "" {
			t.Errorf("%s: %d %q (%s) from %q, want 403 RBAC: access denied", name, resp.StatusCode, body,
				resp.Header.Get("Content-Type"), resp.Header.Get("X-Backend"))
		}
	}
	c := newClient()
	for _, proto := range []struct {
		name string
		c    *http.Client
	}{{"http/1.1", c}, {"h2c", h2cClient()}} {
		before := hits.Load()
		resp := do(t, proto.c, "GET", addr, "svc", "/ok", "X-User", "alice")
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "b" {
			t.Errorf("%s allowed: %d from %q", proto.name, resp.StatusCode, resp.Header.Get("X-Backend"))
		}
		denied(proto.name+" DENY policy", do(t, proto.c, "GET", addr, "svc", "/admin/users", "X-User", "alice"))
		denied(proto.name+" DENY principal", do(t, proto.c, "GET", addr, "svc", "/ok", "X-User", "alice", "User-Agent", "bot/1"))
		denied(proto.name+" ALLOW without x-user", do(t, proto.c, "GET", addr, "svc", "/ok"))
		denied(proto.name+" ALLOW method", do(t, proto.c, "POST", addr, "svc", "/ok", "X-User", "alice"))
		// RBAC runs before the router: a request no route serves is still refused first.
		denied(proto.name+" no route", do(t, proto.c, "GET", addr, "elsewhere", "/admin"))
		// ... and before CORS: a preflight to a denied path is not answered by the cors filter.
		denied(proto.name+" preflight", do(t, proto.c, "OPTIONS", addr, "svc", "/admin", "X-User", "a",
			"Origin", "https://app.example", "Access-Control-Request-Method", "GET"))
		if n := hits.Load() - before; n != 1 {
			t.Errorf("%s: the backend saw %d requests, want only the allowed one", proto.name, n)
		}
	}
	resp := do(t, c, "OPTIONS", addr, "svc", "/ok", "X-User", "a", "Origin", "https://app.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed preflight: %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if m := metricsOf(t, p); !strings.Contains(m, `signalbox_proxy_rbac_denied_total{listener="out"} 12`) {
		t.Errorf("metrics do not count the 12 denials:\n%s", grepLines(m, "rbac"))
	}
}

func hdrPrincipal(name string, sm *matcherv3.StringMatcher) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: &routev3.HeaderMatcher{
		Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}}}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestRBACServesTLS: authenticated and requested_server_name read the real TLS connection
// beneath the listener, over HTTP/1.1 and h2 (ALPN): only a client certificate with the
// allowed subject, asking for the allowed name, gets through. A shadow DENY rule that
// matches everything is counted and never enforced.
func TestRBACServesTLS(t *testing.T) {
	var hits atomic.Int64
	b := countingBackend(t, "b", &hits)
	pki := newPKI(t, "shop.example.com")
	inline := func(b []byte) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
	}
	// The proxy serves the PKI's client certificate: the test client does not verify it.
	downstream := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{CertificateChain: inline(pki.clientCertPEM), PrivateKey: inline(pki.clientKeyPEM)}},
		AlpnProtocols:   []string{"h2", "http/1.1"},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inline(pki.caPEM)}},
	}}
	allow := rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"client": policy(
		perms(&rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: exact("shop.example.com")}}),
		ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{
			PrincipalName: exact("CN=proxy-client")}}}))})
	shadow := rbacFilterOf(&rbacfilterv3.RBAC{ShadowRules: &rbacv3.RBAC{Action: rbacv3.RBAC_DENY,
		Policies: map[string]*rbacv3.Policy{"all": policy(perms(anyPerm), ids(anyID))}}})
	gw := httpListener("gw", "0.0.0.0", 8443, "r", shadow, allow, routerFilter())
	gw.FilterChains[0].TransportSocket = &core.TransportSocket{Name: tlsTransportSocketName,
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(downstream)}}
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "b"))), listeners: []types.Resource{gw}}
	_, p, _ := setup(t, cfg)
	addr := p.ListenerAddr("gw")

	client := func(sni string, cert bool, h2 bool) *http.Client {
		tc := &tls.Config{ServerName: sni, InsecureSkipVerify: true}
		if cert {
			tc.Certificates = []tls.Certificate{pki.client}
		}
		tr := &http.Transport{TLSClientConfig: tc}
		var protocols http.Protocols
		if h2 {
			protocols.SetHTTP2(true)
		} else {
			protocols.SetHTTP1(true)
		}
		tr.Protocols = &protocols
		return &http.Client{Transport: tr, Timeout: testTimeout}
	}
	for _, h2 := range []bool{false, true} {
		for _, c := range []struct {
			name string
			sni  string
			cert bool
			want int
		}{
			{"certificate and name", "shop.example.com", true, 200},
			{"no certificate", "shop.example.com", false, 403},
			{"other name", "other.example.com", true, 403},
		} {
			req, _ := http.NewRequest("GET", "https://"+addr+"/x", nil)
			resp, err := client(c.sni, c.cert, h2).Do(req)
			if err != nil {
				t.Fatalf("h2 %v %s: %v", h2, c.name, err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want || (h2 && resp.ProtoMajor != 2) {
				t.Errorf("h2 %v %s: %d over HTTP/%d, want %d", h2, c.name, resp.StatusCode, resp.ProtoMajor, c.want)
			}
		}
	}
	if hits.Load() != 2 {
		t.Errorf("the backend saw %d requests, want 2", hits.Load())
	}
	m := metricsOf(t, p)
	for _, want := range []string{`signalbox_proxy_rbac_denied_total{listener="gw"} 4`, `signalbox_proxy_rbac_shadow_denied_total{listener="gw"} 6`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "rbac"))
		}
	}
}
