package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonfaultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func corsFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: corsFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&corsv3.Cors{})}}
}

func faultFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: faultFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&faultv3.HTTPFault{})}}
}

func percent(n uint32) *typev3.FractionalPercent {
	return &typev3.FractionalPercent{Numerator: n, Denominator: typev3.FractionalPercent_HUNDRED}
}

// TestCORS: Istio's shape, the cors filter in the HCM and a route.v3.CorsPolicy per route.
func TestCORS(t *testing.T) {
	b := echoBackend(t, "b")
	r := prefixRoute("/", "b")
	r.TypedPerFilterConfig = map[string]*anypb.Any{corsFilterName: mustAny(&routev3.CorsPolicy{
		AllowOriginStringMatch: []*matcherv3.StringMatcher{exact("https://app.example"),
			{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: ".trusted.example"}}},
		AllowMethods:     "GET,POST",
		AllowHeaders:     "x-token",
		ExposeHeaders:    "x-backend",
		MaxAge:           "600",
		AllowCredentials: wrapperspb.Bool(true),
		EnabledSpecifier: &routev3.CorsPolicy_FilterEnabled{FilterEnabled: &core.RuntimeFractionalPercent{DefaultValue: percent(100)}},
	})}
	open := vhost("open", []string{"open"}, prefixRoute("/", "b"))
	open.TypedPerFilterConfig = map[string]*anypb.Any{corsFilterName: mustAny(&corsv3.CorsPolicy{
		AllowOriginStringMatch: []*matcherv3.StringMatcher{exact("*")}, AllowMethods: "GET"})}
	routes := routeConfiguration("r", open, vhost("v", []string{"*"}, r))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}},
		filters: []*hcmv3.HttpFilter{corsFilter()}})
	c := newClient()

	// An allowed preflight is answered by the proxy.
	resp := do(t, c, "OPTIONS", addr, "svc", "/x", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "" {
		t.Fatalf("preflight: %d from %q", resp.StatusCode, resp.Header.Get("X-Backend"))
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example",
		"Access-Control-Allow-Methods":     "GET,POST",
		"Access-Control-Allow-Headers":     "x-token",
		"Access-Control-Max-Age":           "600",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("preflight %s = %q, want %q", k, got, want)
		}
	}
	// A preflight from an origin not allowed goes to the upstream, without CORS headers.
	resp = do(t, c, "OPTIONS", addr, "svc", "/x", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if resp.Header.Get("X-Backend") != "b" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed preflight: from %q, ACAO %q", resp.Header.Get("X-Backend"), resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// An actual request from an allowed origin gets the response headers.
	resp = do(t, c, "GET", addr, "svc", "/x", "Origin", "https://a.trusted.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://a.trusted.example" || resp.Header.Get("Access-Control-Expose-Headers") != "x-backend" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("X-Backend") != "b" {
		t.Errorf("allowed request: %v", resp.Header)
	}
	resp = do(t, c, "GET", addr, "svc", "/x", "Origin", "https://evil.example")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got ACAO %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// A virtual-host policy applies where the route has none; exact "*" allows any origin.
	resp = do(t, c, "OPTIONS", addr, "open", "/y", "Origin", "https://anyone.example", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://anyone.example" || resp.Header.Get("X-Backend") != "" {
		t.Errorf("wildcard preflight: %d ACAO %q from %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("X-Backend"))
	}
}

func faultConfig(delay time.Duration, delayPct uint32, abort uint32, abortPct *typev3.FractionalPercent) *anypb.Any {
	f := &faultv3.HTTPFault{}
	if delay > 0 {
		f.Delay = &commonfaultv3.FaultDelay{FaultDelaySecifier: &commonfaultv3.FaultDelay_FixedDelay{FixedDelay: durationpb.New(delay)}, Percentage: percent(delayPct)}
	}
	if abort > 0 {
		f.Abort = &faultv3.FaultAbort{ErrorType: &faultv3.FaultAbort_HttpStatus{HttpStatus: abort}, Percentage: abortPct}
	}
	return mustAny(f)
}

func TestFaultInjection(t *testing.T) {
	b := echoBackend(t, "b")
	abort := prefixRoute("/abort", "b")
	abort.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(0, 0, 418, percent(100))}
	never := prefixRoute("/never", "b")
	never.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(0, 0, 500, &typev3.FractionalPercent{Numerator: 0, Denominator: typev3.FractionalPercent_MILLION})}
	half := prefixRoute("/half", "b")
	half.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(0, 0, 503, &typev3.FractionalPercent{Numerator: 5000, Denominator: typev3.FractionalPercent_TEN_THOUSAND})}
	delay := prefixRoute("/delay", "b")
	delay.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(150*time.Millisecond, 100, 0, nil)}
	grpcAbort := prefixRoute("/grpc", "b")
	grpcAbort.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: mustAny(&faultv3.HTTPFault{Abort: &faultv3.FaultAbort{
		ErrorType: &faultv3.FaultAbort_GrpcStatus{GrpcStatus: 14}, Percentage: percent(100)}})}
	routes := routeConfiguration("r", vhost("v", []string{"*"}, abort, never, half, delay, grpcAbort, prefixRoute("/", "b")))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}},
		filters: []*hcmv3.HttpFilter{faultFilter()}})
	c := newClient()
	if resp := do(t, c, "GET", addr, "svc", "/abort"); resp.StatusCode != 418 || resp.Header.Get("X-Backend") != "" {
		t.Errorf("abort: %d from %q", resp.StatusCode, resp.Header.Get("X-Backend"))
	}
	if resp := do(t, c, "GET", addr, "svc", "/never"); resp.StatusCode != 200 {
		t.Errorf("0%% abort: %d", resp.StatusCode)
	}
	aborted := 0
	for range 200 {
		if do(t, c, "GET", addr, "svc", "/half").StatusCode == 503 {
			aborted++
		}
	}
	if aborted < 60 || aborted > 140 {
		t.Errorf("50%% abort: %d of 200 aborted", aborted)
	}
	start := time.Now()
	if resp := do(t, c, "GET", addr, "svc", "/delay"); resp.StatusCode != 200 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("delay: %d after %v", resp.StatusCode, time.Since(start))
	}
	if resp := do(t, c, "GET", addr, "svc", "/grpc"); resp.StatusCode != 200 || resp.Header.Get("Grpc-Status") != "14" {
		t.Errorf("grpc abort: %d grpc-status %q", resp.StatusCode, resp.Header.Get("Grpc-Status"))
	}
	start = time.Now()
	if resp := do(t, c, "GET", addr, "svc", "/plain"); resp.StatusCode != 200 || time.Since(start) > 100*time.Millisecond {
		t.Errorf("no fault: %d after %v", resp.StatusCode, time.Since(start))
	}
}

// TestFaultWithoutFilterIsInert: per-route fault configuration does nothing unless the
// listener runs the fault filter, as in Envoy.
func TestFaultWithoutFilterIsInert(t *testing.T) {
	b := echoBackend(t, "b")
	abort := prefixRoute("/", "b")
	abort.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(0, 0, 500, percent(100))}
	_, _, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, abort)),
		clusters: map[string][]*httptest.Server{"b": {b}}})
	if resp := do(t, newClient(), "GET", addr, "svc", "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("got %d", resp.StatusCode)
	}
}
