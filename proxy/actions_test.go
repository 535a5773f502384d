package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoBackend answers with every request header it saw as "Echo-<Name>" response headers,
// and response headers the test asks for in "Want-Resp-<Name>".
func echoBackend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for k, vv := range r.Header {
			w.Header()["Echo-"+k] = vv
		}
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-Path", r.RequestURI)
		w.Header().Set("X-Upstream", "original")
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func do(t testing.TB, c *http.Client, method, addr, host, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Header.Set("X-Test-Body", string(b))
	return resp
}

func noRedirects() *http.Client {
	c := newClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func hv(key, value string, action core.HeaderValueOption_HeaderAppendAction) *core.HeaderValueOption {
	return &core.HeaderValueOption{Header: &core.HeaderValue{Key: key, Value: value}, AppendAction: action}
}

const (
	appendOrAdd    = core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	overwriteOrAdd = core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	addIfAbsentAct = core.HeaderValueOption_ADD_IF_ABSENT
)

func redirectRoute(prefix string, ra *routev3.RedirectAction) *routev3.Route {
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
		Action: &routev3.Route_Redirect{Redirect: ra}}
}

func TestRedirectAndDirectResponse(t *testing.T) {
	b := echoBackend(t, "b")
	direct := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/teapot"}},
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 418,
			Body: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: "short and stout"}}}},
		ResponseHeadersToAdd: []*core.HeaderValueOption{hv("x-route", "teapot", overwriteOrAdd)}}
	directBytes := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/bytes"}},
		Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{Status: 200,
			Body: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: []byte("raw")}}}}}
	routes := routeConfiguration("r", vhost("v", []string{"*"},
		direct, directBytes,
		redirectRoute("/old", &routev3.RedirectAction{PathRewriteSpecifier: &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: "/new"}}),
		redirectRoute("/moved", &routev3.RedirectAction{HostRedirect: "other.example", PortRedirect: 8443,
			SchemeRewriteSpecifier: &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: "https"},
			PathRewriteSpecifier:   &routev3.RedirectAction_PathRedirect{PathRedirect: "/landing"},
			ResponseCode:           routev3.RedirectAction_PERMANENT_REDIRECT}),
		redirectRoute("/secure", &routev3.RedirectAction{SchemeRewriteSpecifier: &routev3.RedirectAction_HttpsRedirect{HttpsRedirect: true},
			ResponseCode: routev3.RedirectAction_FOUND, StripQuery: true}),
		redirectRoute("/see", &routev3.RedirectAction{ResponseCode: routev3.RedirectAction_SEE_OTHER,
			PathRewriteSpecifier: &routev3.RedirectAction_RegexRewrite{RegexRewrite: &matcherv3.RegexMatchAndSubstitute{
				Pattern: &matcherv3.RegexMatcher{Regex: `^/see/([a-z]+)$`}, Substitution: `/saw/\1`}}}),
		redirectRoute("/tmp", &routev3.RedirectAction{ResponseCode: routev3.RedirectAction_TEMPORARY_REDIRECT}),
		prefixRoute("/", "b"),
	))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}}})
	c := noRedirects()
	for _, tc := range []struct {
		host, path string
		code       int
		location   string
	}{
		{"svc:80", "/old/page?x=1", 301, "http://svc:80/new/page?x=1"}, // Envoy keeps the port without a scheme change
		{"svc:9080", "/moved/x", 308, "https://other.example:8443/landing"},
		{"svc", "/secure/a?q=1", 302, "https://svc/secure/a"},
		{"svc:80", "/secure", 302, "https://svc/secure"},
		{"svc", "/see/abc", 303, "http://svc/saw/abc"},
		{"svc:9080", "/tmp?k=v", 307, "http://svc:9080/tmp?k=v"},
	} {
		resp := do(t, c, "GET", addr, tc.host, tc.path)
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s%s: got %d Location %q, want %d %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
	}
	resp := do(t, c, "GET", addr, "svc", "/teapot")
	if resp.StatusCode != 418 || resp.Header.Get("X-Test-Body") != "short and stout" || resp.Header.Get("X-Route") != "teapot" ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("direct response: %d %q headers %v", resp.StatusCode, resp.Header.Get("X-Test-Body"), resp.Header)
	}
	if resp := do(t, c, "GET", addr, "svc", "/bytes"); resp.StatusCode != 200 || resp.Header.Get("X-Test-Body") != "raw" {
		t.Errorf("direct bytes: %d %q", resp.StatusCode, resp.Header.Get("X-Test-Body"))
	}
}

func TestRewrites(t *testing.T) {
	b := echoBackend(t, "b")
	prefix := prefixRoute("/api/", "b")
	prefix.GetRoute().PrefixRewrite = "/v2/"
	prefix.GetRoute().HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: "backend.internal"}
	regex := prefixRoute("/users/", "b")
	regex.GetRoute().RegexRewrite = &matcherv3.RegexMatchAndSubstitute{
		Pattern: &matcherv3.RegexMatcher{Regex: `^/users/([0-9]+)/profile$`}, Substitution: `/profiles/\1`}
	exactRw := pathRoute("/exact", "b")
	exactRw.GetRoute().PrefixRewrite = "/replaced"
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefix, regex, exactRw, prefixRoute("/", "b")))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}}})
	c := newClient()
	for _, tc := range []struct{ path, wantPath, wantHost string }{
		{"/api/items?id=7", "/v2/items?id=7", "backend.internal"},
		{"/users/42/profile?full=1", "/profiles/42?full=1", "svc"},
		{"/exact?q", "/replaced?q", "svc"},
		{"/other", "/other", "svc"},
	} {
		resp := do(t, c, "GET", addr, "svc", tc.path)
		if got := resp.Header.Get("X-Seen-Path"); got != tc.wantPath {
			t.Errorf("%s: upstream saw path %q, want %q", tc.path, got, tc.wantPath)
		}
		if got := resp.Header.Get("X-Seen-Host"); got != tc.wantHost {
			t.Errorf("%s: upstream saw host %q, want %q", tc.path, got, tc.wantHost)
		}
	}
}

func TestHeaderOperationsAtEveryLevel(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	wr := weightedRoute("/", "a", 1, "b", 0)
	wc := wr.GetRoute().GetWeightedClusters().Clusters[0]
	wc.RequestHeadersToAdd = []*core.HeaderValueOption{hv("x-level", "cluster", appendOrAdd)}
	wc.ResponseHeadersToAdd = []*core.HeaderValueOption{hv("x-resp-level", "cluster", appendOrAdd)}
	wc.ResponseHeadersToRemove = []string{"x-upstream"}
	wr.RequestHeadersToAdd = []*core.HeaderValueOption{
		hv("x-level", "route", appendOrAdd),
		hv("x-set", "route", overwriteOrAdd),
		hv("x-absent", "route", addIfAbsentAct),
		{Header: &core.HeaderValue{Key: "x-legacy", Value: "v"}, Append: wrapperspb.Bool(false)},
		hv("x-empty", "", appendOrAdd),
		hv("x-percent", "100%%", overwriteOrAdd),
	}
	wr.RequestHeadersToRemove = []string{"x-drop"}
	wr.ResponseHeadersToAdd = []*core.HeaderValueOption{hv("x-resp-level", "route", appendOrAdd)}
	v := vhost("v", []string{"*"}, wr)
	v.RequestHeadersToAdd = []*core.HeaderValueOption{hv("x-level", "vhost", appendOrAdd)}
	v.ResponseHeadersToAdd = []*core.HeaderValueOption{hv("x-resp-level", "vhost", appendOrAdd)}
	routes := routeConfiguration("r", v)
	routes.RequestHeadersToAdd = []*core.HeaderValueOption{hv("x-level", "config", appendOrAdd)}
	routes.ResponseHeadersToAdd = []*core.HeaderValueOption{hv("x-resp-level", "config", appendOrAdd), hv("x-served-by", "signalbox", overwriteOrAdd)}
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"a": {a}, "b": {b}}})
	resp := do(t, newClient(), "GET", addr, "svc", "/", "X-Set", "client", "X-Absent", "client", "X-Drop", "gone", "X-Legacy", "old", "X-Level", "client")
	h := resp.Header
	for k, want := range map[string]string{
		"Echo-X-Level":   "client,cluster,route,vhost,config",
		"Echo-X-Set":     "route",
		"Echo-X-Absent":  "client",
		"Echo-X-Legacy":  "v",
		"Echo-X-Drop":    "",
		"Echo-X-Empty":   "",
		"Echo-X-Percent": "100%",
		"X-Resp-Level":   "cluster,route,vhost,config",
		"X-Upstream":     "",
		"X-Served-By":    "signalbox",
	} {
		if got := strings.Join(h.Values(k), ","); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Get("X-Backend") != "a" {
		t.Errorf("zero-weight cluster was picked: %q", h.Get("X-Backend"))
	}
}
