package compiler

import (
	"slices"
	"testing"

	"github.com/signalbox/signalbox/schema"
)

func TestParseRetryOn(t *testing.T) {
	cases := []struct {
		in    string
		conds string
		codes []uint32
	}{
		{"5xx", "5xx", nil},
		{"gateway-error, 503 ,connect-failure,429", "gateway-error,connect-failure", []uint32{503, 429}},
		{"999,reset", "999,reset", nil}, // not an HTTP status: kept as a condition, as Istio does
		{",,", "", nil},
	}
	for _, c := range cases {
		conds, codes := parseRetryOn(c.in)
		if conds != c.conds || !slices.Equal(codes, c.codes) {
			t.Errorf("parseRetryOn(%q) = %q %v, want %q %v", c.in, conds, codes, c.conds, c.codes)
		}
	}
}

func TestRetryDefaults(t *testing.T) {
	b := &builder{}
	d := &schema.Document{Kind: schema.KindVirtualService}
	if p := b.retry(d, "r", nil, false); p == nil || p.Attempts != 2 || p.RetryOn != defaultRetryOn || !slices.Equal(p.StatusCodes, []uint32{503}) || !p.PreviousHosts {
		t.Errorf("no retries: got %+v, want Istio's default policy", p)
	}
	if p := b.retry(d, "r", &schema.HTTPRetry{}, false); p != nil {
		t.Errorf("attempts 0: got %+v, want no retry policy", p)
	}
	p := b.retry(d, "r", &schema.HTTPRetry{Attempts: 3, RetryOn: "503"}, false)
	if p.RetryOn != "retriable-status-codes" || !slices.Equal(p.StatusCodes, []uint32{503}) {
		t.Errorf("retryOn 503: got %q %v", p.RetryOn, p.StatusCodes)
	}
	off := false
	if p := b.retry(d, "r", &schema.HTTPRetry{Attempts: 1, RetryIgnorePreviousHosts: &off}, false); p.PreviousHosts {
		t.Errorf("retryIgnorePreviousHosts false: still avoiding previous hosts")
	}
	if p := b.retry(d, "r", nil, true); p.PreviousHosts || p.HostSelectionAttempts != 5 {
		t.Errorf("consistent hash: got %+v, want the default policy without previous_hosts", p)
	}
	if len(b.findings) != 0 {
		t.Errorf("findings: %v", b.findings)
	}
}

func TestMergeMatches(t *testing.T) {
	prefix := func(p string) *schema.StringMatch { return &schema.StringMatch{Prefix: p} }
	exact := func(p string) *schema.StringMatch { return &schema.StringMatch{Exact: p} }
	cases := []struct {
		name      string
		root, sub []schema.HTTPMatchRequest
		wantURIs  []string
		ok        bool
	}{
		{"inside", []schema.HTTPMatchRequest{{URI: prefix("/cart")}}, []schema.HTTPMatchRequest{{URI: prefix("/cart/x")}}, []string{"/cart/x"}, true},
		{"outside", []schema.HTTPMatchRequest{{URI: prefix("/cart")}}, []schema.HTTPMatchRequest{{URI: prefix("/orders")}}, nil, false},
		{"inherits", []schema.HTTPMatchRequest{{URI: prefix("/cart")}}, []schema.HTTPMatchRequest{{Headers: map[string]schema.StringMatch{"x": {Exact: "1"}}}}, []string{"/cart"}, true},
		{"exact root", []schema.HTTPMatchRequest{{URI: exact("/a")}}, []schema.HTTPMatchRequest{{URI: prefix("/a")}}, nil, false},
		{"no sub matches", []schema.HTTPMatchRequest{{URI: prefix("/a")}}, nil, []string{"/a"}, true},
	}
	for _, c := range cases {
		got, ok := mergeMatches(c.root, c.sub)
		var uris []string
		for _, m := range got {
			if m.URI != nil {
				uris = append(uris, m.URI.Prefix+m.URI.Exact)
			}
		}
		if ok != c.ok || !slices.Equal(uris, c.wantURIs) {
			t.Errorf("%s: got %v %v, want %v %v", c.name, uris, ok, c.wantURIs, c.ok)
		}
	}
}

func TestEffectivePolicy(t *testing.T) {
	top := &schema.TrafficPolicy{
		LoadBalancer:     &schema.LoadBalancerSettings{Simple: "RANDOM"},
		OutlierDetection: &schema.OutlierDetection{Interval: "1s"},
		PortLevelSettings: []schema.PortTrafficPolicy{{
			Port: &schema.PortSelector{Number: 81}, LoadBalancer: &schema.LoadBalancerSettings{Simple: "LEAST_REQUEST"}}},
	}
	subset := &schema.TrafficPolicy{TLS: &schema.ClientTLSSettings{Mode: "SIMPLE"}}

	var e effectivePolicy
	e.apply(nil, top, "spec.trafficPolicy", 80)
	e.apply(nil, subset, "spec.subsets[0].trafficPolicy", 80)
	if e.lb.v.Simple != "RANDOM" || e.outlier.v == nil || e.tls.v == nil || e.tls.path != "spec.subsets[0].trafficPolicy.tls" {
		t.Errorf("port 80: subset should add TLS and keep the top level's: %+v", e)
	}
	var p effectivePolicy
	p.apply(nil, top, "spec.trafficPolicy", 81)
	// Port-level settings replace all four fields, set or not.
	if p.lb.v.Simple != "LEAST_REQUEST" || p.outlier.v != nil || p.lb.path != "spec.trafficPolicy.portLevelSettings[0].loadBalancer" {
		t.Errorf("port 81: want only the port-level load balancer, got %+v", p)
	}
}
