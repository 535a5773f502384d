package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

func TestDomainSelection(t *testing.T) {
	var b domainIndexBuilder
	for i, ds := range [][]string{
		{"exact.example.com", "exact.example.com:8080"}, // 0
		{"*.example.com"},     // 1
		{"*.b.example.com"},   // 2
		{"api.*"},             // 3
		{"api.internal.*"},    // 4
		{"*"},                 // 5
		{"[::1]", "10.0.0.1"}, // 6
	} {
		for _, d := range ds {
			if err := b.add(d, i, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx := b.build()
	for host, want := range map[string]int{
		"exact.example.com":      0,
		"EXACT.Example.com":      0,
		"exact.example.com:8080": 0,
		"exact.example.com:9090": 5, // the Host is matched port and all, as Envoy matches it
		"x.example.com":          1,
		"x.b.example.com":        2, // longest suffix
		"x.b.example.com:80":     5,
		"api.foo":                3,
		"api.internal.foo":       4, // longest prefix
		"example.com":            5, // "*.example.com" needs at least one character for "*"
		"other":                  5,
		"[::1]":                  6,
		"[::1]:8080":             5,
		"10.0.0.1:80":            5,
		"api.foo:8080":           3, // "api.*" takes any port
	} {
		if got := idx.find(host); got != want {
			t.Errorf("find(%q) = %d, want %d", host, got, want)
		}
	}

	var none domainIndexBuilder
	none.add("only", 0, "")
	if got := none.build(); got.find("other") != -1 {
		t.Error("no '*' virtual host: an unknown host must find nothing")
	}
	for _, bad := range []string{"a*b", "*a*", ""} {
		var b domainIndexBuilder
		if err := b.add(bad, 0, ""); err == nil {
			t.Errorf("domain %q accepted", bad)
		}
	}
	var dup domainIndexBuilder
	dup.add("a", 0, "one")
	if err := dup.add("A", 1, "two"); err == nil {
		t.Error("a domain in two virtual hosts accepted")
	}
}

// Envoy's HeaderUtility::stripPortFromHost: a numeric port after the last ':' outside brackets.
func TestStripAnyHostPort(t *testing.T) {
	for host, want := range map[string]string{
		"reviews:9081":    "reviews",
		"reviews":         "reviews",
		"Reviews:80":      "Reviews",
		"[::1]:8080":      "[::1]",
		"[::1]":           "[::1]",
		"reviews:":        "reviews:",
		"reviews:http":    "reviews:http",
		"10.0.0.1:80":     "10.0.0.1",
		"a:b:99999999999": "a:b:99999999999", // not a 32-bit number
	} {
		r := &http.Request{Method: http.MethodGet, Host: host}
		if stripAnyHostPort(r); r.Host != want {
			t.Errorf("%q: got %q, want %q", host, r.Host, want)
		}
	}
	r := &http.Request{Method: http.MethodConnect, Host: "reviews:443"}
	if stripAnyHostPort(r); r.Host != "reviews:443" {
		t.Errorf("CONNECT keeps its port, got %q", r.Host)
	}
}

// A port the route table does not list is not routed, unless the connection manager sets
// strip_any_host_port: the port then comes off before routing, and the upstream sees the bare
// host too.
func TestHostPortMatchedAsTheConnectionManagerSays(t *testing.T) {
	be := backend(t, "reviews")
	routes := routeConfiguration("r",
		vhost("reviews", []string{"reviews", "reviews:9080"}, prefixRoute("/", "reviews")),
		vhost("wild", []string{"*.example.com"}, prefixRoute("/", "reviews")))
	for _, strip := range []bool{false, true} {
		cfg := sidecar{routes: routes, clusters: map[string][]*httptest.Server{"reviews": {be}}, version: "r1"}
		if strip {
			cfg.hcm = func(m *hcmv3.HttpConnectionManager) {
				m.StripPortMode = &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true}
			}
		}
		_, _, addr := setup(t, cfg)
		c := newClient()
		for _, tc := range []struct {
			host     string
			code     int // without strip_any_host_port
			seenHost string
		}{
			{"reviews:9080", 200, "reviews:9080"},
			{"Reviews", 200, "Reviews"},
			{"reviews:9081", 404, "reviews"},
			{"www.example.com", 200, "www.example.com"},
			{"www.example.com:8443", 404, "www.example.com"},
			{"details:9080", 404, ""},
		} {
			code, seen := tc.code, tc.seenHost
			if strip {
				if tc.seenHost != "" {
					code = 200
				}
				seen, _, _ = strings.Cut(seen, ":")
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			req.Host = tc.host
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != code || (code == 200 && resp.Header.Get("X-Seen-Host") != seen) {
				t.Errorf("strip_any_host_port %v, Host %s: got %d, upstream Host %q; want %d, %q",
					strip, tc.host, resp.StatusCode, resp.Header.Get("X-Seen-Host"), code, seen)
			}
		}
	}
}
