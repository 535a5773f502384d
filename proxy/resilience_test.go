package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushostsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// scripted is a backend that answers request n (from 1) with script(n, r).
func scripted(t testing.TB, script func(n int64, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script(n.Add(1), w, r)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// istioRetry is the retry policy Istio emits, with the given conditions and attempts.
func istioRetry(on string, retries uint32, perTry time.Duration) *routev3.RetryPolicy {
	rp := &routev3.RetryPolicy{
		RetryOn:    on,
		NumRetries: wrapperspb.UInt32(retries),
		RetryHostPredicate: []*routev3.RetryPolicy_RetryHostPredicate{{
			Name:       previousHostsName,
			ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: mustAny(&previoushostsv3.PreviousHostsPredicate{})},
		}},
		HostSelectionRetryMaxAttempts: 5,
		RetryBackOff:                  &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)},
	}
	if perTry > 0 {
		rp.PerTryTimeout = durationpb.New(perTry)
	}
	return rp
}

func withRetry(r *routev3.Route, rp *routev3.RetryPolicy) *routev3.Route {
	r.GetRoute().RetryPolicy = rp
	return r
}

func TestRetries(t *testing.T) {
	flaky, flakyN := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Attempt", r.Header.Get("X-Envoy-Attempt-Count"))
		w.Header().Set("X-Body", string(body))
		if n%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	})
	teapot, teapotN := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusTeapot)
		}
	})
	internal, internalN := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	slow, slowN := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	})
	codes := withRetry(prefixRoute("/codes", "teapot"), istioRetry("retriable-status-codes", 2, 0))
	codes.GetRoute().RetryPolicy.RetriableStatusCodes = []uint32{418}
	v := vhost("v", []string{"*"},
		withRetry(prefixRoute("/flaky", "flaky"), istioRetry("5xx", 2, 0)),
		codes,
		withRetry(prefixRoute("/internal", "internal"), istioRetry("gateway-error,connect-failure", 2, 0)),
		withRetry(prefixRoute("/slow", "slow"), istioRetry("5xx", 1, 100*time.Millisecond)),
	)
	v.IncludeRequestAttemptCount = true
	_, _, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", v), clusters: map[string][]*httptest.Server{
		"flaky": {flaky}, "teapot": {teapot}, "internal": {internal}, "slow": {slow}}})
	c := newClient()

	req, _ := http.NewRequest("POST", "http://"+addr+"/flaky", strings.NewReader("payload"))
	req.Host = "svc"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || flakyN.Load() != 3 || resp.Header.Get("X-Attempt") != "3" || resp.Header.Get("X-Body") != "payload" {
		t.Errorf("5xx retries: %d after %d requests, attempt %q, body %q", resp.StatusCode, flakyN.Load(), resp.Header.Get("X-Attempt"), resp.Header.Get("X-Body"))
	}
	if resp := do(t, c, "GET", addr, "svc", "/codes"); resp.StatusCode != 200 || teapotN.Load() != 2 {
		t.Errorf("retriable status code: %d after %d requests", resp.StatusCode, teapotN.Load())
	}
	if resp := do(t, c, "GET", addr, "svc", "/internal"); resp.StatusCode != 500 || internalN.Load() != 1 {
		t.Errorf("500 is not a gateway error: %d after %d requests", resp.StatusCode, internalN.Load())
	}
	start := time.Now()
	if resp := do(t, c, "GET", addr, "svc", "/slow"); resp.StatusCode != 200 || slowN.Load() != 2 || time.Since(start) > time.Second {
		t.Errorf("per-try timeout: %d after %d requests in %v", resp.StatusCode, slowN.Load(), time.Since(start))
	}
}

// TestRetryConnectFailureAvoidsPreviousHost: one endpoint refuses connections; with
// connect-failure and previous_hosts every request still succeeds.
func TestRetryConnectFailureAvoidsPreviousHost(t *testing.T) {
	live := echoBackend(t, "live")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().(*net.TCPAddr)
	dead.Close()
	snap := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"c": {live}},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, withRetry(prefixRoute("/", "c"), istioRetry("connect-failure", 1, 0))))}.snapshot(t)
	cla := snap.resources[eds][0].(*endpointv3.ClusterLoadAssignment)
	cla.Endpoints[0].LbEndpoints = append(cla.Endpoints[0].LbEndpoints, lbEndpoint("127.0.0.1", uint32(deadAddr.Port)))
	addr := serve(t, snap)
	c := newClient()
	for i := range 10 {
		if code, from := get(t, c, addr, "svc", "/"); code != 200 || from != "live" {
			t.Fatalf("request %d: %d from %q", i, code, from)
		}
	}
}

// serve starts an xDS server and a proxy on snap and returns the "out" listener's address.
func serve(t testing.TB, snap snapshot) string {
	t.Helper()
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, snap)
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, snap.versions)
	return p.ListenerAddr("out")
}

// TestZeroTimeoutDisables: Istio's default timeout is 0s, which means none, not 15 s.
func TestZeroTimeoutDisables(t *testing.T) {
	slow, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
	})
	r := prefixRoute("/", "slow")
	r.GetRoute().Timeout = durationpb.New(0)
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, r, prefixRoute("/", "slow"))),
		clusters: map[string][]*httptest.Server{"slow": {slow}}})
	if resp := do(t, newClient(), "GET", addr, "svc", "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("timeout 0: %d", resp.StatusCode)
	}
	// An unset timeout is Envoy's 15 s.
	p.mu.Lock()
	lr := p.bound["out"].h.table.Load().vhosts[0][1]
	p.mu.Unlock()
	if lr.r.timeout != defaultRouteTimeout {
		t.Errorf("unset timeout decoded as %v", lr.r.timeout)
	}
}

func TestMirror(t *testing.T) {
	main := echoBackend(t, "main")
	var mu sync.Mutex
	var seen []string
	shadowDone := make(chan struct{}, 10)
	shadow, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Host+" "+r.Method+" "+r.RequestURI+" "+string(body))
		mu.Unlock()
		time.Sleep(300 * time.Millisecond) // a slow shadow must not slow the client
		w.WriteHeader(http.StatusInternalServerError)
		shadowDone <- struct{}{}
	})
	r := prefixRoute("/", "main")
	r.GetRoute().RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{
		Cluster:         "shadow",
		RuntimeFraction: &core.RuntimeFractionalPercent{DefaultValue: percent(100)},
	}}
	off := prefixRoute("/off", "main")
	off.GetRoute().RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{
		Cluster: "shadow", RuntimeFraction: &core.RuntimeFractionalPercent{DefaultValue: percent(0)},
	}}
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, off, r)),
		clusters: map[string][]*httptest.Server{"main": {main}, "shadow": {shadow}}})
	c := newClient()
	req, _ := http.NewRequest("POST", "http://"+addr+"/orders?id=1", strings.NewReader("order"))
	req.Host = "shop.example:8080"
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "main" || time.Since(start) > 250*time.Millisecond {
		t.Errorf("main request: %d from %q after %v", resp.StatusCode, resp.Header.Get("X-Backend"), time.Since(start))
	}
	do(t, c, "GET", addr, "shop.example", "/off")
	select {
	case <-shadowDone:
	case <-time.After(testTimeout):
		t.Fatal("the shadow request never arrived")
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "shop.example-shadow:8080 POST /orders?id=1 order" {
		t.Errorf("shadow saw %q", seen)
	}
	var metrics strings.Builder
	p.fwd.stats.writePrometheus(&metrics)
	if !strings.Contains(metrics.String(), `signalbox_proxy_mirror_requests_total{cluster="shadow"} 1`) {
		t.Errorf("mirror counter missing:\n%s", metrics.String())
	}
}

// edit helpers for clusters.
func withLB(lb clusterv3.Cluster_LbPolicy) func(*clusterv3.Cluster) {
	return func(c *clusterv3.Cluster) { c.LbPolicy = lb }
}

func TestGRPCTimeout(t *testing.T) {
	capped := &route{timeout: time.Second, grpcTimeout: true, maxGRPC: 500 * time.Millisecond}
	uncapped := &route{timeout: 0, grpcTimeout: true}
	plain := &route{timeout: 3 * time.Second}
	req := func(ct, gt string) *http.Request {
		r := httptest.NewRequest("POST", "/svc/Method", nil)
		r.Header.Set("Content-Type", ct)
		if gt != "" {
			r.Header.Set("Grpc-Timeout", gt)
		}
		return r
	}
	for _, tc := range []struct {
		rt   *route
		r    *http.Request
		want time.Duration
	}{
		{capped, req("application/grpc", "100m"), 100 * time.Millisecond},
		{capped, req("application/grpc", "2S"), 500 * time.Millisecond},
		{capped, req("application/grpc", ""), 500 * time.Millisecond},
		{capped, req("application/json", "100m"), time.Second},
		{uncapped, req("application/grpc+proto", "3S"), 3 * time.Second},
		{uncapped, req("application/grpc", ""), 0},
		{plain, req("application/grpc", "1S"), 3 * time.Second},
	} {
		if got := requestTimeout(tc.rt, tc.r); got != tc.want {
			t.Errorf("%+v %v: got %v, want %v", *tc.rt, tc.r.Header, got, tc.want)
		}
	}
}
