package proxy

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// TestRedirectLocationAuthority pins the authority of a redirect to Envoy's newUri and
// processRequestHost: host_redirect is used as written, port_redirect is appended, and the
// request's own port is dropped only for a port_redirect or when the scheme changes away from
// the scheme whose default it is. Istio leaves port_redirect unset for FROM_PROTOCOL_DEFAULT
// and for 80 on http or 443 on https, so these cases are what a VirtualService user sees.
func TestRedirectLocationAuthority(t *testing.T) {
	toHTTPS := &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: "https"}
	toHTTP := &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: "http"}
	for _, tc := range []struct {
		name   string
		ra     *routev3.RedirectAction
		tls    bool
		host   string
		target string // the request target
		want   string
	}{
		{"no change keeps :80", &routev3.RedirectAction{}, false, "svc:80", "/p?q=1", "http://svc:80/p?q=1"},
		{"no change keeps another port", &routev3.RedirectAction{}, false, "svc:8080", "/p", "http://svc:8080/p"},
		{"no port stays without one", &routev3.RedirectAction{}, false, "svc", "/p", "http://svc/p"},
		{"to https drops http's default port", &routev3.RedirectAction{SchemeRewriteSpecifier: toHTTPS}, false, "svc:80", "/p", "https://svc/p"},
		{"to https keeps another port", &routev3.RedirectAction{SchemeRewriteSpecifier: toHTTPS}, false, "svc:8080", "/p", "https://svc:8080/p"},
		{"to https keeps :443, not http's default", &routev3.RedirectAction{SchemeRewriteSpecifier: toHTTPS}, false, "svc:443", "/p", "https://svc:443/p"},
		{"https to http drops :443", &routev3.RedirectAction{SchemeRewriteSpecifier: toHTTP}, true, "svc:443", "/p", "http://svc/p"},
		{"https kept keeps :443", &routev3.RedirectAction{}, true, "svc:443", "/p", "https://svc:443/p"},
		{"port replaces the request's", &routev3.RedirectAction{PortRedirect: 8443}, false, "svc:9080", "/p", "http://svc:8443/p"},
		{"port added to a bare host", &routev3.RedirectAction{PortRedirect: 8443}, false, "svc", "/p", "http://svc:8443/p"},
		{"port on an IPv6 literal", &routev3.RedirectAction{PortRedirect: 8443}, false, "[::1]", "/p", "http://[::1]:8443/p"},
		{"port replaces an IPv6 literal's", &routev3.RedirectAction{PortRedirect: 8443}, false, "[::1]:9080", "/p", "http://[::1]:8443/p"},
		{"IPv6 literal kept with its port", &routev3.RedirectAction{}, false, "[::1]:80", "/p", "http://[::1]:80/p"},
		{"host redirect replaces the request's port too", &routev3.RedirectAction{HostRedirect: "other"}, false, "svc:9080", "/p", "http://other/p"},
		{"host redirect is used as written", &routev3.RedirectAction{HostRedirect: "other:80", SchemeRewriteSpecifier: toHTTPS}, false, "svc", "/p", "https://other:80/p"},
		{"host and port", &routev3.RedirectAction{HostRedirect: "other", PortRedirect: 9443}, false, "svc:80", "/p", "http://other:9443/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra, err := decodeRedirect("redirect", tc.ra)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tc.target, nil)
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := ra.location(r); got != tc.want {
				t.Errorf("Host %q: Location %q, want %q", tc.host, got, tc.want)
			}
		})
	}
}
