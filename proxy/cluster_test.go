package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func hashRoute(prefix, cluster string, policies ...*routev3.RouteAction_HashPolicy) *routev3.Route {
	r := prefixRoute(prefix, cluster)
	r.GetRoute().HashPolicy = policies
	return r
}

func headerHash(name string) *routev3.RouteAction_HashPolicy {
	return &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: name}}}
}

func backends(t testing.TB, prefix string, n int) []*httptest.Server {
	var out []*httptest.Server
	for i := range n {
		out = append(out, backend(t, fmt.Sprintf("%s%d", prefix, i)))
	}
	return out
}

// TestConsistentHashing: with RING_HASH and MAGLEV the same key always reaches the same
// endpoint, different keys spread over several, and a generated cookie pins a client.
func TestConsistentHashing(t *testing.T) {
	ring, mag := backends(t, "ring", 4), backends(t, "mag", 4)
	cookie := &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{Cookie: &routev3.RouteAction_HashPolicy_Cookie{
		Name: "session", Ttl: durationpb.New(time.Hour), Path: "/"}}}
	query := &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: "user"}}}
	srcIP := &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_ConnectionProperties_{
		ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}}
	routes := routeConfiguration("r", vhost("v", []string{"*"},
		hashRoute("/ring", "ring", headerHash("x-user")),
		hashRoute("/maglev", "mag", headerHash("x-user")),
		hashRoute("/cookie", "ring", cookie),
		hashRoute("/query", "mag", query),
		hashRoute("/ip", "ring", srcIP),
	))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"ring": ring, "mag": mag},
		edit: map[string]func(*clusterv3.Cluster){
			"ring": func(c *clusterv3.Cluster) {
				c.LbPolicy = clusterv3.Cluster_RING_HASH
				c.LbConfig = &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{MinimumRingSize: wrapperspb.UInt64(2048)}}
			},
			"mag": func(c *clusterv3.Cluster) {
				c.LbPolicy = clusterv3.Cluster_MAGLEV
				c.LbConfig = &clusterv3.Cluster_MaglevLbConfig_{MaglevLbConfig: &clusterv3.Cluster_MaglevLbConfig{TableSize: wrapperspb.UInt64(251)}}
			},
		}})
	c := newClient()
	for _, path := range []string{"/ring", "/maglev"} {
		spread := map[string]bool{}
		for u := range 20 {
			user := fmt.Sprintf("user-%d", u)
			_, first := get(t, c, addr, "svc", path, "X-User", user)
			for range 5 {
				if _, got := get(t, c, addr, "svc", path, "X-User", user); got != first {
					t.Fatalf("%s: %s went to %s then %s", path, user, first, got)
				}
			}
			spread[first] = true
		}
		if len(spread) < 3 {
			t.Errorf("%s: 20 keys reached only %v", path, spread)
		}
	}
	for u := range 5 {
		q := fmt.Sprintf("/query?user=u%d", u)
		_, first := get(t, c, addr, "svc", q)
		for range 3 {
			if _, got := get(t, c, addr, "svc", q); got != first {
				t.Fatalf("query hash: %s went to %s then %s", q, first, got)
			}
		}
	}
	_, firstIP := get(t, c, addr, "svc", "/ip")
	for range 5 {
		if _, got := get(t, c, addr, "svc", "/ip"); got != firstIP {
			t.Fatalf("source ip hash moved: %s then %s", firstIP, got)
		}
	}

	// No cookie: the proxy generates one with the TTL, and that cookie pins the endpoint.
	resp := do(t, c, "GET", addr, "svc", "/cookie")
	sc := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "session=") || !strings.Contains(sc, "Max-Age=3600") || !strings.Contains(sc, "Path=/") {
		t.Fatalf("Set-Cookie %q", sc)
	}
	value := strings.TrimPrefix(strings.Split(sc, ";")[0], "session=")
	first := resp.Header.Get("X-Backend")
	for range 5 {
		resp := do(t, c, "GET", addr, "svc", "/cookie", "Cookie", "session="+value)
		if resp.Header.Get("X-Backend") != first || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("cookie %s: %s then %s (Set-Cookie %q)", value, first, resp.Header.Get("X-Backend"), resp.Header.Get("Set-Cookie"))
		}
	}
}

func TestLBPolicies(t *testing.T) {
	lr, rnd := backends(t, "lr", 3), backends(t, "rnd", 3)
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/lr", "lr"), prefixRoute("/rnd", "rnd")))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"lr": lr, "rnd": rnd},
		edit: map[string]func(*clusterv3.Cluster){
			"lr": func(c *clusterv3.Cluster) {
				c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
				c.LbConfig = &clusterv3.Cluster_LeastRequestLbConfig_{LeastRequestLbConfig: &clusterv3.Cluster_LeastRequestLbConfig{ChoiceCount: wrapperspb.UInt32(2)}}
			},
			"rnd": withLB(clusterv3.Cluster_RANDOM),
		}})
	c := newClient()
	for _, path := range []string{"/lr", "/rnd"} {
		seen := map[string]int{}
		for range 60 {
			_, from := get(t, c, addr, "svc", path)
			seen[from]++
		}
		if len(seen) != 3 {
			t.Errorf("%s: 60 requests reached %v", path, seen)
		}
	}
}

func metricsOf(t testing.TB, p *Proxy) string {
	t.Helper()
	s := httptest.NewServer(p.AdminHandler())
	defer s.Close()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func configOf(t testing.TB, p *Proxy) ConfigDump {
	t.Helper()
	s := httptest.NewServer(p.AdminHandler())
	defer s.Close()
	resp, err := http.Get(s.URL + "/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d ConfigDump
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCircuitBreaker: Istio's connectionPool {tcp.maxConnections: 1, http.http1MaxPendingRequests: 1}
// lets one request in flight and one waiting; the rest get 503 with x-envoy-overloaded.
func TestCircuitBreaker(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	slow, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(testTimeout):
		}
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "slow"))),
		clusters: map[string][]*httptest.Server{"slow": {slow}},
		edit: map[string]func(*clusterv3.Cluster){"slow": func(c *clusterv3.Cluster) {
			c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				MaxConnections: wrapperspb.UInt32(1), MaxPendingRequests: wrapperspb.UInt32(1),
				MaxRequests: wrapperspb.UInt32(100), MaxRetries: wrapperspb.UInt32(3), TrackRemaining: true,
			}}}
		}}})
	c := newClient()
	type result struct {
		code       int
		overloaded string
	}
	results := make(chan result, 5)
	for range 5 {
		go func() {
			resp := do(t, c, "GET", addr, "svc", "/")
			results <- result{resp.StatusCode, resp.Header.Get("X-Envoy-Overloaded")}
		}()
	}
	// Three of five overflow at once; the two admitted finish when released.
	for range 3 {
		select {
		case r := <-results:
			if r.code != 503 || r.overloaded != "true" {
				t.Errorf("overflowed request: %d, x-envoy-overloaded %q", r.code, r.overloaded)
			}
		case <-time.After(testTimeout):
			t.Fatal("no overflow")
		}
	}
	once.Do(func() { close(release) })
	for range 2 {
		if r := <-results; r.code != 200 {
			t.Errorf("admitted request: %d", r.code)
		}
	}
	m := metricsOf(t, p)
	for _, want := range []string{
		`signalbox_proxy_upstream_rq_pending_overflow_total{cluster="slow"} 3`,
		`signalbox_proxy_requests_total{cluster="slow",code="200"} 2`,
		`signalbox_proxy_requests_total{cluster="slow",code="503"} 3`,
		`signalbox_proxy_request_duration_seconds_count{cluster="slow"} 5`,
		`signalbox_proxy_route_requests_total{route_config="r",virtual_host="v",route="#0",code="503"} 3`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	if d := configOf(t, p); len(d.Clusters) != 1 || d.Clusters[0].PendingOverflow != 3 {
		t.Errorf("/config clusters: %+v", d.Clusters)
	}
}

// TestOutlierDetection: an endpoint answering 5xx is ejected after consecutive_5xx errors
// and takes no traffic for base_ejection_time; then it is back.
func TestOutlierDetection(t *testing.T) {
	good := backend(t, "good")
	bad, badN := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "bad")
		w.WriteHeader(http.StatusBadGateway)
	})
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "c"))),
		clusters: map[string][]*httptest.Server{"c": {good, bad}},
		edit: map[string]func(*clusterv3.Cluster){"c": func(c *clusterv3.Cluster) {
			// Istio's translation of outlierDetection {consecutive5xxErrors: 3, interval: 1s,
			// baseEjectionTime: 300ms, maxEjectionPercent: 50}; minHealthPercent 0 disables panic.
			c.OutlierDetection = &clusterv3.OutlierDetection{
				Consecutive_5Xx:                    wrapperspb.UInt32(3),
				EnforcingConsecutive_5Xx:           wrapperspb.UInt32(100),
				ConsecutiveGatewayFailure:          wrapperspb.UInt32(0),
				EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(0),
				Interval:                           durationpb.New(time.Second),
				BaseEjectionTime:                   durationpb.New(time.Second),
				MaxEjectionPercent:                 wrapperspb.UInt32(50),
				EnforcingSuccessRate:               wrapperspb.UInt32(0),
			}
			c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: 0}}
		}}})
	c := newClient()
	for range 6 { // round robin: three of these reach the bad endpoint
		get(t, c, addr, "svc", "/")
	}
	ejected := time.Now()
	if n := badN.Load(); n != 3 {
		t.Fatalf("bad endpoint saw %d requests before ejection, want 3", n)
	}
	for range 10 {
		code, from := get(t, c, addr, "svc", "/")
		if time.Since(ejected) > 900*time.Millisecond {
			break // a loaded machine: the ejection may be over, which is checked below
		}
		if code != 200 || from != "good" {
			t.Fatalf("while ejected: %d from %q", code, from)
		}
	}
	d := configOf(t, p)
	if d.Clusters[0].Ejections != 1 {
		t.Errorf("ejections %d", d.Clusters[0].Ejections)
	}
	time.Sleep(time.Until(ejected.Add(1050 * time.Millisecond)))
	seenBad := false
	for range 4 {
		if _, from := get(t, c, addr, "svc", "/"); from == "bad" {
			seenBad = true
		}
	}
	if !seenBad {
		t.Error("the ejected endpoint never came back")
	}
}

// TestPriorityFailover: the lower priority takes traffic only once outlier detection has
// ejected every endpoint of the better one.
func TestPriorityFailover(t *testing.T) {
	standby := backend(t, "standby")
	broken, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "primary")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	snap := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"c": {broken}},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "c"))),
		edit: map[string]func(*clusterv3.Cluster){"c": func(c *clusterv3.Cluster) {
			c.OutlierDetection = &clusterv3.OutlierDetection{
				ConsecutiveGatewayFailure: wrapperspb.UInt32(2), EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
				Consecutive_5Xx: wrapperspb.UInt32(0), BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: wrapperspb.UInt32(100),
			}
		}}}.snapshot(t)
	cla := snap.resources[eds][0].(*endpointv3.ClusterLoadAssignment)
	ip, port := hostPort(t, standby)
	cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{Priority: 1, LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(ip, port)}})
	addr := serve(t, snap)
	c := newClient()
	for i := range 2 {
		if code, from := get(t, c, addr, "svc", "/"); code != 503 || from != "primary" {
			t.Fatalf("request %d: %d from %q, want the primary's 503", i, code, from)
		}
	}
	for range 3 {
		if code, from := get(t, c, addr, "svc", "/"); code != 200 || from != "standby" {
			t.Fatalf("after ejection: %d from %q, want the standby", code, from)
		}
	}
}

// TestBrokenBodyReleasesBreaker: an upstream that breaks off mid-body aborts the client's
// response and still gives back its circuit-breaker slot.
func TestBrokenBodyReleasesBreaker(t *testing.T) {
	be, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, "only ten b")
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		io.WriteString(w, "fine")
	})
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "b"))),
		clusters: map[string][]*httptest.Server{"b": {be}},
		edit: map[string]func(*clusterv3.Cluster){"b": func(c *clusterv3.Cluster) {
			c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				MaxConnections: wrapperspb.UInt32(1), MaxPendingRequests: wrapperspb.UInt32(1), MaxRequests: wrapperspb.UInt32(1)}}}
		}}})
	c := newClient()
	if _, _, err := tryGet(c, addr, "svc", "/"); err == nil {
		t.Error("a truncated body reached the client as complete")
	}
	for range 3 {
		if code, _ := get(t, c, addr, "svc", "/"); code != 200 {
			t.Fatalf("after a broken body: %d (slot not released?)", code)
		}
	}
	if d := configOf(t, p); d.Clusters[0].ActiveRequests != 0 {
		t.Errorf("active requests %d", d.Clusters[0].ActiveRequests)
	}
}
