package proxy

import (
	"net/http/httptest"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// TestIgnoreCaseFoldsASCIIOnly: Envoy's ignore_case compares ASCII letters without case and
// nothing else. Unicode folding would make the long s (ſ) equal "s" and the Kelvin sign equal
// "k", so a DENY on "admins" would also stop "adminſ" while an ALLOW on it would let "adminſ"
// through: neither is what Envoy does.
func TestIgnoreCaseFoldsASCIIOnly(t *testing.T) {
	sm := func(m *matcherv3.StringMatcher) stringMatcher {
		m.IgnoreCase = true
		out, err := decodeStringMatcher("", m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	exactM := sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "Admins"}})
	prefixM := sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "/Ask"}})
	suffixM := sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: ".Sk"}})
	containsM := sm(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "Kit"}})
	for _, tc := range []struct {
		name string
		m    stringMatcher
		v    string
		want bool
	}{
		{"exact, other case", exactM, "aDMINS", true},
		{"exact, long s", exactM, "adminſ", false},
		{"prefix, other case", prefixM, "/aSK/x", true},
		{"prefix, long s", prefixM, "/aſk/x", false},
		{"suffix, other case", suffixM, "a.SK", true},
		{"suffix, Kelvin sign", suffixM, "a.s\u212a", false},
		{"contains, other case", containsM, "a-KIT-b", true},
		{"contains, Kelvin sign", containsM, "a-\u212ait-b", false},
	} {
		if got := tc.m.match(tc.v); got != tc.want {
			t.Errorf("%s: %q matched %v, want %v", tc.name, tc.v, got, tc.want)
		}
	}
}

// TestPathHeaderOfAbsoluteForm: Envoy's :path is the origin-form target, also when the request
// line carries an absolute URL, so a matcher on :path cannot be stepped around that way.
func TestPathHeaderOfAbsoluteForm(t *testing.T) {
	hm, err := decodeHeaderMatcher("", &routev3.HeaderMatcher{Name: ":path",
		HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "/admin"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{
		"/admin/users?x=1":                    true,
		"http://shop.example.com/admin/users": true,
		"http://shop.example.com/shop":        false,
		"/shop":                               false,
	} {
		r := httptest.NewRequest("GET", target, nil)
		if got := hm.match(r); got != want {
			t.Errorf(":path prefix /admin on request target %q: %v, want %v", target, got, want)
		}
	}
}
