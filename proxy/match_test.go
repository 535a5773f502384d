package proxy

import (
	"net/http/httptest"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestHeaderMatcherFollowsEnvoy(t *testing.T) {
	present := func(b bool) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: b}}
	}
	str := func(sm *matcherv3.StringMatcher) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{Name: "x-a", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}
	}
	inverted := func(h *routev3.HeaderMatcher) *routev3.HeaderMatcher { h.InvertMatch = true; return h }
	missingAsEmpty := func(h *routev3.HeaderMatcher) *routev3.HeaderMatcher { h.TreatMissingHeaderAsEmpty = true; return h }
	prefixIC := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "AB"}, IgnoreCase: true}
	re := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "v[0-9]"}}}

	for _, tc := range []struct {
		name  string
		m     *routev3.HeaderMatcher
		value []string // nil: header absent
		want  bool
	}{
		{"present, absent", present(true), nil, false},
		{"present, set", present(true), []string{""}, true},
		{"not present, absent", present(false), nil, true},
		{"exact", str(exact("v")), []string{"v"}, true},
		{"exact, other", str(exact("v")), []string{"w"}, false},
		{"repeated header joined with commas", str(exact("a,b")), []string{"a", "b"}, true},
		{"inverted exact, other", inverted(str(exact("v"))), []string{"w"}, true},
		{"inverted exact, absent: Envoy fails it", inverted(str(exact("v"))), nil, false},
		{"inverted exact, absent, missing as empty", missingAsEmpty(inverted(str(exact("v")))), nil, true},
		{"inverted present, absent", inverted(present(true)), nil, true},
		{"prefix ignoring case", str(prefixIC), []string{"abc"}, true},
		{"regex is a full match", str(re), []string{"v1"}, true},
		{"regex is a full match, not a search", str(re), []string{"xv1"}, false},
	} {
		hm, err := decodeHeaderMatcher("", tc.m)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		for _, v := range tc.value {
			r.Header.Add("X-A", v)
		}
		if got := hm.match(r); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestRouteMatchPathAndQuery(t *testing.T) {
	rt := func(r *routev3.Route) route {
		x, err := decodeRoute("", r)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	caseless := prefixRoute("/API", "c")
	caseless.Match.CaseSensitive = wrapperspb.Bool(false)
	query := prefixRoute("/", "c")
	query.Match.QueryParameters = []*routev3.QueryParameterMatcher{{Name: "debug", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{StringMatch: exact("on")}}}
	for _, tc := range []struct {
		r      route
		target string
		want   bool
	}{
		{rt(prefixRoute("/api", "c")), "/api/v1?x=1", true},
		{rt(prefixRoute("/api", "c")), "/API/v1", false},
		{rt(caseless), "/api/v1", true},
		{rt(pathRoute("/a", "c")), "/a?x=/b", true},
		{rt(pathRoute("/a", "c")), "/a/", false},
		{rt(regexRoute("/a/[^/]+", "c")), "/a/b?q", true},
		{rt(query), "/?x=1&debug=on", true},
		{rt(query), "/?debug=off&debug=on", false}, // the first value counts
		{rt(query), "/?d%65bug=o%6E", true},
		{rt(query), "/", false},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		if got := tc.r.matches(r, requestPath(r)); got != tc.want {
			t.Errorf("%+v on %s: got %v", tc.r.path, tc.target, got)
		}
	}
}

func TestWeightedRoundRobinSchedule(t *testing.T) {
	c := &cluster{cfg: &clusterConfig{lb: lbRoundRobin}}
	c.setEndpoints(&endpointsConfig{eps: []endpointConfig{{addr: "a", weight: 3}, {addr: "b", weight: 1}}})
	counts := map[string]int{}
	seq := ""
	for range 8 {
		e := c.pick()
		counts[e.addr]++
		seq += e.addr
	}
	if counts["a"] != 6 || counts["b"] != 2 || seq != "aabaaaba" {
		t.Errorf("weights 3:1 over 8 picks: %v, sequence %s", counts, seq)
	}
}
