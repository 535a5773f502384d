package proxy

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestRoutesByHostPathAndHeader(t *testing.T) {
	be := map[string]*httptest.Server{}
	for _, n := range []string{"web", "api", "canary", "exact", "items", "wild", "prefixed", "fallback"} {
		be[n] = backend(t, n)
	}
	routes := routeConfiguration("r",
		vhost("web", []string{"web.example.com"},
			withHeader(prefixRoute("/api", "canary"), "x-canary", exact("true")),
			prefixRoute("/api", "api"),
			pathRoute("/exact", "exact"),
			regexRoute(`/items/[0-9]+`, "items"),
			prefixRoute("/", "web"),
		),
		vhost("wild", []string{"*.example.com"}, prefixRoute("/", "wild")),
		vhost("prefixed", []string{"shop.*"}, prefixRoute("/", "prefixed")),
		vhost("reviews", []string{"reviews"}, prefixRoute("/", "fallback")),
	)
	clusters := map[string][]*httptest.Server{}
	for n, s := range be {
		clusters[n] = []*httptest.Server{s}
	}
	_, _, addr := setup(t, sidecar{routes: routes, clusters: clusters, version: "r1"})
	c := newClient()

	for _, tc := range []struct {
		host, path string
		hdr        []string
		code       int
		want       string
	}{
		{"web.example.com", "/", nil, 200, "web"},
		{"WEB.example.com", "/x", nil, 200, "web"},
		{"web.example.com:8080", "/", nil, 404, ""}, // the Host is matched port and all, as Envoy does
		{"web.example.com", "/api/v1", nil, 200, "api"},
		{"web.example.com", "/api/v1", []string{"X-Canary", "true"}, 200, "canary"},
		{"web.example.com", "/api/v1", []string{"X-Canary", "false"}, 200, "api"},
		{"web.example.com", "/exact", nil, 200, "exact"},
		{"web.example.com", "/exact?q=1", nil, 200, "exact"},
		{"web.example.com", "/exact/more", nil, 200, "web"},
		{"web.example.com", "/items/42", nil, 200, "items"},
		{"web.example.com", "/items/42x", nil, 200, "web"},
		{"a.example.com", "/", nil, 200, "wild"},
		{"a.b.example.com:80", "/", nil, 404, ""},
		{"shop.local", "/", nil, 200, "prefixed"},
		{"reviews", "/", nil, 200, "fallback"},
		{"reviews:9080", "/", nil, 404, ""},
		{"shop.local:8080", "/", nil, 200, "prefixed"},
		{"unknown.test", "/", nil, 404, ""},
		{"example.com", "/", nil, 404, ""},
	} {
		code, got := get(t, c, addr, tc.host, tc.path, tc.hdr...)
		if code != tc.code || got != tc.want {
			t.Errorf("%s%s %v: got %d from %q, want %d from %q", tc.host, tc.path, tc.hdr, code, got, tc.code, tc.want)
		}
	}
}

// TestForwardsHostAndXForwardedFor checks the headers Envoy's connection manager sets with no
// trusted hops: without use_remote_address (a sidecar's outbound listener) X-Forwarded-For
// passes as the client sent it and X-Forwarded-Proto is filled in only when missing; with it
// (a gateway) the peer is appended and X-Forwarded-Proto comes from the connection.
func TestForwardsHostAndXForwardedFor(t *testing.T) {
	be := backend(t, "b")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))
	gw := hcmOf(httpListener("gw", "127.0.0.1", 15002, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.UseRemoteAddress = wrapperspb.Bool(true)
	})
	_, p, addr := setup(t, sidecar{routes: routes, clusters: map[string][]*httptest.Server{"b": {be}}, version: "r1",
		listeners: []types.Resource{gw}})
	gwAddr := p.ListenerAddr("gw")
	for _, tc := range []struct {
		name, addr string
		xff, xfp   []string // sent; nil: not sent
		wantXFF    string
		wantXFP    string
	}{
		{"sidecar", addr, []string{"10.0.0.1"}, nil, "10.0.0.1", "http"},
		{"sidecar keeps proto", addr, nil, []string{"https"}, "", "https"},
		{"gateway", gwAddr, []string{"10.0.0.1"}, []string{"https"}, "10.0.0.1, 127.0.0.1", "http"},
		{"gateway without xff", gwAddr, nil, nil, "127.0.0.1", "http"},
	} {
		req, _ := http.NewRequest("GET", "http://"+tc.addr+"/p?q=1", nil)
		req.Host = "svc.example:9080"
		if tc.xff != nil {
			req.Header["X-Forwarded-For"] = tc.xff
		}
		if tc.xfp != nil {
			req.Header["X-Forwarded-Proto"] = tc.xfp
		}
		req.Header.Set("Connection", "close, X-Hop")
		req.Header.Set("X-Hop", "secret")
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Seen-Host"); got != "svc.example:9080" {
			t.Errorf("%s: upstream saw Host %q, want the client's", tc.name, got)
		}
		if got := resp.Header.Get("X-Seen-XFF"); got != tc.wantXFF {
			t.Errorf("%s: upstream saw X-Forwarded-For %q, want %q", tc.name, got, tc.wantXFF)
		}
		if got := resp.Header.Get("X-Seen-XFP"); got != tc.wantXFP {
			t.Errorf("%s: upstream saw X-Forwarded-Proto %q, want %q", tc.name, got, tc.wantXFP)
		}
		if got := resp.Header.Get("X-Seen-Path"); got != "/p?q=1" {
			t.Errorf("%s: upstream saw path %q", tc.name, got)
		}
	}
}

// TestRequestID: a request without x-request-id reaches the upstream with a new random UUID,
// as Envoy's connection manager generates one; the client's own is kept; a connection manager
// with generate_request_id false sends none.
func TestRequestID(t *testing.T) {
	be := backend(t, "b")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))
	off := hcmOf(httpListener("off", "127.0.0.1", 15003, "r"), func(m *hcmv3.HttpConnectionManager) {
		m.GenerateRequestId = wrapperspb.Bool(false)
	})
	_, p, addr := setup(t, sidecar{routes: routes, clusters: map[string][]*httptest.Server{"b": {be}}, version: "r1",
		listeners: []types.Resource{off}})
	seen := func(addr, sent string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Seen-Request-Id")
	}
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	first, second := seen(addr, ""), seen(addr, "")
	if !uuid4.MatchString(first) || !uuid4.MatchString(second) || first == second {
		t.Errorf("generated request ids %q and %q, want two different version 4 UUIDs", first, second)
	}
	if got := seen(addr, "from-the-client"); got != "from-the-client" {
		t.Errorf("the client's request id reached the upstream as %q", got)
	}
	if got := seen(p.ListenerAddr("off"), ""); got != "" {
		t.Errorf("generate_request_id false: the upstream saw request id %q, want none", got)
	}
}

func TestWeightedSplit(t *testing.T) {
	a, b, never := backend(t, "a"), backend(t, "b"), backend(t, "never")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, weightedRoute("/", "a", 80, "b", 20, "never", 0)))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1",
		clusters: map[string][]*httptest.Server{"a": {a}, "b": {b}, "never": {never}}})
	c := newClient()
	counts := map[string]int{}
	const n = 1000
	for range n {
		code, got := get(t, c, addr, "svc", "/")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		counts[got]++
	}
	// 80/20 over 1,000: the standard deviation of b's count is about 12.6, so +-50 is 4 sigma.
	if counts["never"] != 0 || counts["a"]+counts["b"] != n || counts["b"] < 150 || counts["b"] > 250 {
		t.Errorf("split %v, want about a=800 b=200 never=0", counts)
	}
}

func TestRoundRobinAcrossEndpoints(t *testing.T) {
	b1, b2, b3 := backend(t, "b1"), backend(t, "b2"), backend(t, "b3")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "svc")))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1",
		clusters: map[string][]*httptest.Server{"svc": {b1, b2, b3}}})
	c := newClient()
	counts := map[string]int{}
	for range 30 {
		_, got := get(t, c, addr, "svc", "/")
		counts[got]++
	}
	if counts["b1"] != 10 || counts["b2"] != 10 || counts["b3"] != 10 {
		t.Errorf("round robin over 3 endpoints, 30 requests: %v", counts)
	}
}

func TestNoEndpointsAndUnknownCluster503(t *testing.T) {
	routes := routeConfiguration("r", vhost("all", []string{"*"},
		prefixRoute("/empty", "empty"),
		prefixRoute("/missing", "not-in-cds"),
	))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"empty": nil}})
	c := newClient()
	if code, _ := get(t, c, addr, "svc", "/empty"); code != 503 {
		t.Errorf("cluster without endpoints: %d, want 503", code)
	}
	if code, _ := get(t, c, addr, "svc", "/missing"); code != 503 {
		t.Errorf("route to an unknown cluster: %d, want 503", code)
	}
}

func TestUpstreamConnectFailure503(t *testing.T) {
	dead := backend(t, "dead")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "dead")))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"dead": {dead}}})
	dead.Close()
	if code, _ := get(t, newClient(), addr, "svc", "/"); code != 503 {
		t.Errorf("upstream down: %d, want 503", code)
	}
}

func TestH2C(t *testing.T) {
	be := backend(t, "b")
	routes := routeConfiguration("r", vhost("all", []string{"*"},
		withHeader(prefixRoute("/", "b"), ":method", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "GET"}})))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"b": {be}}})
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	// Prior-knowledge HTTP/2 over plain TCP, as gRPC clients speak it.
	c := &http.Client{Timeout: testTimeout, Transport: &http.Transport{Protocols: &protocols}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("X-Backend") != "b" {
		t.Errorf("h2c: proto %s, backend %q", resp.Proto, resp.Header.Get("X-Backend"))
	}
}
