package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// headerEcho answers with the request's header fields in its body, "Key: v1,v2" a line,
// sorted; with X-Want-Server it answers with a Server field of its own.
func headerEcho(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		for k, vv := range r.Header {
			lines = append(lines, k+": "+strings.Join(vv, ","))
		}
		slices.Sort(lines)
		if r.Header.Get("X-Want-Server") != "" {
			w.Header().Set("Server", "echo")
		}
		io.WriteString(w, strings.Join(lines, "\n"))
	}))
	t.Cleanup(s.Close)
	return s
}

// seenHeaders sends a GET with hdr to addr and returns the header fields the upstream saw
// and the response.
func seenHeaders(t *testing.T, addr, path string, hdr map[string]string) (http.Header, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Host = "svc"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seen := http.Header{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			seen[k] = strings.Split(v, ",")
		}
	}
	return seen, resp
}

// TestConnManagerRequestHeaders: what a client may not send through the proxy is stripped as
// Envoy's connection manager strips it when no address is internal; a gateway
// (use_remote_address) treats the request as an edge request.
func TestConnManagerRequestHeaders(t *testing.T) {
	be := headerEcho(t)
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))
	gw := hcmOf(httpListener("gw", "127.0.0.1", 15002, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.UseRemoteAddress = wrapperspb.Bool(true)
	})
	keep := hcmOf(httpListener("keep", "127.0.0.1", 15003, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.UseRemoteAddress = wrapperspb.Bool(true)
		m.PreserveExternalRequestId = true
		m.ForwardClientCertDetails = hcmv3.HttpConnectionManager_ALWAYS_FORWARD_ONLY
	})
	_, p, addr := setup(t, sidecar{routes: routes, clusters: map[string][]*httptest.Server{"b": {be}}, version: "r1",
		listeners: []types.Resource{gw, keep}})
	sent := map[string]string{
		"X-Envoy-Retry-On":               "5xx",
		"X-Envoy-Upstream-Rq-Timeout-Ms": "1",
		"X-Envoy-Internal":               "true",
		"X-Envoy-Decorator-Operation":    "op",
		"X-Envoy-External-Address":       "192.0.2.9",
		"X-Envoy-Custom":                 "mine",
		"X-Forwarded-Client-Cert":        "By=spiffe://forged",
		"X-Request-Id":                   "from-the-client",
	}
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	// Envoy passes a Referer only when it is one absolute URL.
	for referer, want := range map[string]string{"https://shop.example/cart?x=1": "https://shop.example/cart?x=1", "/cart": "", "not a url": ""} {
		if seen, _ := seenHeaders(t, addr, "/", map[string]string{"Referer": referer}); strings.Join(seen["Referer"], ",") != want {
			t.Errorf("Referer %q reached the upstream as %q, want %q", referer, seen["Referer"], want)
		}
	}
	for _, tc := range []struct {
		name, addr string
		want       map[string]string // "" : absent; "uuid": a new version 4 UUID
	}{
		{"sidecar", addr, map[string]string{
			"X-Envoy-Retry-On": "", "X-Envoy-Upstream-Rq-Timeout-Ms": "", "X-Envoy-Internal": "",
			"X-Envoy-Decorator-Operation": "op", "X-Envoy-External-Address": "192.0.2.9", "X-Envoy-Custom": "mine",
			"X-Forwarded-Client-Cert": "", "X-Request-Id": "from-the-client",
		}},
		{"gateway", p.ListenerAddr("gw"), map[string]string{
			"X-Envoy-Retry-On": "", "X-Envoy-Internal": "", "X-Envoy-Decorator-Operation": "",
			"X-Envoy-External-Address": "127.0.0.1", "X-Envoy-Custom": "mine",
			"X-Forwarded-Client-Cert": "", "X-Request-Id": "uuid",
		}},
		{"gateway preserving ids and client certs", p.ListenerAddr("keep"), map[string]string{
			"X-Envoy-Retry-On": "", "X-Envoy-External-Address": "127.0.0.1",
			"X-Forwarded-Client-Cert": "By=spiffe://forged", "X-Request-Id": "from-the-client",
		}},
	} {
		seen, resp := seenHeaders(t, tc.addr, "/", sent)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
		}
		for k, want := range tc.want {
			got := strings.Join(seen[k], ",")
			switch {
			case want == "uuid" && (!uuid4.MatchString(got) || got == sent[k]):
				t.Errorf("%s: upstream saw %s %q, want a new request id", tc.name, k, got)
			case want != "uuid" && got != want:
				t.Errorf("%s: upstream saw %s %q, want %q", tc.name, k, got, want)
			}
		}
	}
}

// TestConnManagerResponseHeaders: every response carries the connection manager's Server
// (server_name, default "envoy", as server_header_transformation says), and one the upstream
// answered the router's x-envoy-upstream-service-time; the router sends the upstream its
// expected timeout; suppress_envoy_headers drops the router's two.
func TestConnManagerResponseHeaders(t *testing.T) {
	be := headerEcho(t)
	timed := prefixRoute("/timed", "b")
	timed.GetRoute().Timeout = durationpb.New(3 * time.Second)
	untimed := prefixRoute("/untimed", "b")
	untimed.GetRoute().Timeout = durationpb.New(0)
	rewritten := prefixRoute("/old", "b")
	rewritten.GetRoute().PrefixRewrite = "/new"
	routes := routeConfiguration("r", vhost("all", []string{"svc"}, timed, untimed, rewritten, prefixRoute("/", "b")))
	named := hcmOf(httpListener("named", "127.0.0.1", 15002, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.ServerName = "istio-envoy"
		m.HttpFilters[len(m.HttpFilters)-1].ConfigType = &hcmv3.HttpFilter_TypedConfig{
			TypedConfig: mustAny(&routerv3.Router{SuppressEnvoyHeaders: true})}
	})
	ifAbsent := hcmOf(httpListener("if-absent", "127.0.0.1", 15003, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.ServerHeaderTransformation = hcmv3.HttpConnectionManager_APPEND_IF_ABSENT
	})
	pass := hcmOf(httpListener("pass", "127.0.0.1", 15004, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.ServerHeaderTransformation = hcmv3.HttpConnectionManager_PASS_THROUGH
	})
	_, p, addr := setup(t, sidecar{routes: routes, clusters: map[string][]*httptest.Server{"b": {be}}, version: "r1",
		listeners: []types.Resource{named, ifAbsent, pass}})
	wantUpstream := map[string]string{"X-Want-Server": "yes"}
	for _, tc := range []struct {
		name, addr, path string
		hdr              map[string]string
		server           string // the Server the client gets
		serviceTime      bool   // x-envoy-upstream-service-time present
		expected         string // x-envoy-expected-rq-timeout-ms the upstream saw
	}{
		// A route without a timeout has Envoy's default of 15 s (signalbox's own routes
		// always set one, 0 s when Istio's is unset, and then none is sent).
		{"default", addr, "/", nil, "envoy", true, "15000"},
		{"upstream's server overwritten", addr, "/", wantUpstream, "envoy", true, "15000"},
		{"route timeout", addr, "/timed", nil, "envoy", true, "3000"},
		{"route timeout 0 s: none", addr, "/untimed", nil, "envoy", true, ""},
		{"server_name, suppress_envoy_headers", p.ListenerAddr("named"), "/timed", wantUpstream, "istio-envoy", false, ""},
		{"APPEND_IF_ABSENT, upstream has one", p.ListenerAddr("if-absent"), "/", wantUpstream, "echo", true, "15000"},
		{"APPEND_IF_ABSENT, upstream has none", p.ListenerAddr("if-absent"), "/", nil, "envoy", true, "15000"},
		{"PASS_THROUGH", p.ListenerAddr("pass"), "/", wantUpstream, "echo", true, "15000"},
		{"PASS_THROUGH, upstream has none", p.ListenerAddr("pass"), "/", nil, "", true, "15000"},
	} {
		seen, resp := seenHeaders(t, tc.addr, tc.path, tc.hdr)
		if got := resp.Header.Values("Server"); strings.Join(got, ",") != tc.server {
			t.Errorf("%s: Server %q, want %q", tc.name, got, tc.server)
		}
		if st := resp.Header.Values("X-Envoy-Upstream-Service-Time"); (len(st) == 1 && isDigits(st[0])) != tc.serviceTime || len(st) > 1 {
			t.Errorf("%s: x-envoy-upstream-service-time %q, want present: %v", tc.name, st, tc.serviceTime)
		}
		if got := strings.Join(seen["X-Envoy-Expected-Rq-Timeout-Ms"], ","); got != tc.expected {
			t.Errorf("%s: upstream saw x-envoy-expected-rq-timeout-ms %q, want %q", tc.name, got, tc.expected)
		}
	}
	// A rewritten path: the upstream learns the original, unless suppress_envoy_headers.
	for _, tc := range []struct{ addr, want string }{{addr, "/old/x?q=1"}, {p.ListenerAddr("named"), ""}} {
		seen, _ := seenHeaders(t, tc.addr, "/old/x?q=1", nil)
		if got := strings.Join(seen["X-Envoy-Original-Path"], ","); got != tc.want {
			t.Errorf("%s: upstream saw x-envoy-original-path %q, want %q", tc.addr, got, tc.want)
		}
	}
	// A reply of the proxy's own (no route for this host) carries the Server field but no
	// service time: no upstream answered.
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "unknown.example"
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Server") != "envoy" || resp.Header.Get("X-Envoy-Upstream-Service-Time") != "" {
		t.Errorf("local 404: status %d Server %q service time %q, want 404 from envoy without a service time",
			resp.StatusCode, resp.Header.Get("Server"), resp.Header.Get("X-Envoy-Upstream-Service-Time"))
	}
}

// TestForwardClientCert: on a chain that asks for client certificates, SANITIZE_SET replaces
// what the client sent in x-forwarded-client-cert with its certificate's details, in Envoy's
// format, over HTTP/1.1 and HTTP/2; the default (SANITIZE) strips the field.
func TestForwardClientCert(t *testing.T) {
	shop, org := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org")
	g := certGateway{backends: map[string]*httptest.Server{"shop": headerEcho(t), "org": headerEcho(t), "default": backend(t, "default")}}
	mutual := func(d *tlsv3.DownstreamTlsContext) {
		d.RequireClientCertificate = wrapperspb.Bool(true)
		d.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inlineBytes(org.caPEM)}}
	}
	orgChain := httpsChain(org, names("blog.example.org"), orgRoutes, mutual)
	editChainHCM(orgChain, func(m *hcmv3.HttpConnectionManager) {
		m.ForwardClientCertDetails = hcmv3.HttpConnectionManager_SANITIZE_SET
		m.SetCurrentClientCertDetails = &hcmv3.HttpConnectionManager_SetCurrentClientCertDetails{
			Subject: wrapperspb.Bool(true), Cert: true, Uri: true, Dns: true}
	})
	_, p := g.start(t, httpsListener("gw", httpsChain(shop, names("shop.example.com"), shopRoutes, nil), orgChain,
		httpsChain(newPKI(t, "default.example.net"), nil, defaultRoutes, nil)))
	addr := p.ListenerAddr("gw")

	leaf, err := x509.ParseCertificate(org.client.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.Raw)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	encoded := strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(pemText)
	want := "Hash=" + hex.EncodeToString(sum[:]) + `;Cert="` + encoded + `";Subject="CN=proxy-client";URI=`

	seen := func(c *http.Client, host string) (string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req.Host = host
		req.Header.Set("X-Forwarded-Client-Cert", "By=spiffe://forged;Hash=00")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.SplitSeq(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "X-Forwarded-Client-Cert: "); ok {
				return v, resp
			}
		}
		return "", resp
	}
	for _, h2 := range []bool{false, true} {
		client := httpsClient(t, "blog.example.org", org, "blog.example.org", &org.client, h2)
		got, resp := seen(client, "blog.example.org")
		if got != want {
			t.Errorf("h2 %v: upstream saw x-forwarded-client-cert\n%q\nwant\n%q", h2, got, want)
		}
		// The element is made once per connection; the next request on it gets the same.
		if again, _ := seen(client, "blog.example.org"); again != want {
			t.Errorf("h2 %v: second request on the connection: x-forwarded-client-cert %q", h2, again)
		}
		if resp.Header.Get("Server") != "envoy" || resp.Header.Get("X-Envoy-Upstream-Service-Time") == "" {
			t.Errorf("h2 %v: response Server %q service time %q", h2, resp.Header.Get("Server"), resp.Header.Get("X-Envoy-Upstream-Service-Time"))
		}
		if got, _ := seen(httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, h2), "shop.example.com"); got != "" {
			t.Errorf("h2 %v: SANITIZE passed x-forwarded-client-cert %q on", h2, got)
		}
	}
}

// editChainHCM rewrites the connection manager of a filter chain.
func editChainHCM(fc *listenerv3.FilterChain, edit func(*hcmv3.HttpConnectionManager)) {
	var m hcmv3.HttpConnectionManager
	fc.Filters[0].GetTypedConfig().UnmarshalTo(&m)
	edit(&m)
	fc.Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&m)}
}
