package proxy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// TestRouteOnlyUpdateUnderLoad pushes changes to routes alone while clients keep sending:
// not one request may fail, the listener keeps its socket, and the other types are untouched.
func TestRouteOnlyUpdateUnderLoad(t *testing.T) {
	v1, v2 := backend(t, "v1"), backend(t, "v2")
	clusters := map[string][]*httptest.Server{"v1": {v1}, "v2": {v2}}
	before := sidecar{version: "r1", clusters: clusters,
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "v1")))}
	xds, p, addr := setup(t, before)
	cdsRequests := xds.countRequests(func(r *discoveryv3.DiscoveryRequest) bool { return r.GetTypeUrl() == cds })

	var ok, failed atomic.Int64
	var sawV2 atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			deadline := time.Now().Add(testTimeout)
			for n := 0; n < 20000 && time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				code, got, err := tryGet(c, addr, "svc", "/")
				switch {
				case err != nil || code != 200:
					failed.Add(1)
					t.Logf("request failed: %d %v", code, err)
				case got == "v2":
					sawV2.Store(true)
					ok.Add(1)
				default:
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // let the load loop run on the old routes

	// Flip the routes between v1 and v2 a few times, ending on v2.
	for i := 2; i <= 7; i++ {
		next := before
		next.version = fmt.Sprintf("r%d", i)
		target := []string{"v1", "v2"}[i%2]
		next.routes = routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", target)))
		xds.set(t, "node-"+t.Name(), next.snapshot(t))
		waitVersions(t, p, map[string]string{rds: next.version})
		time.Sleep(30 * time.Millisecond)
	}
	deadline := time.Now().Add(testTimeout)
	for !sawV2.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // and on the last ones
	close(stop)
	wg.Wait()

	if failed.Load() != 0 || !sawV2.Load() {
		t.Fatalf("%d requests failed, %d succeeded; new routes served: %v", failed.Load(), ok.Load(), sawV2.Load())
	}
	t.Logf("%d requests, none failed", ok.Load())
	if got := p.ListenerAddr("out"); got != addr {
		t.Errorf("listener rebound from %s to %s on a route-only update", addr, got)
	}
	if v := p.Versions(); v[lds] != "l1" || v[cds] != "c1" || v[eds] != "e1" {
		t.Errorf("versions after a route-only update: %v", v)
	}
	if n := xds.countRequests(func(r *discoveryv3.DiscoveryRequest) bool { return r.GetTypeUrl() == cds }); n != cdsRequests {
		t.Errorf("clusters were re-requested on a route-only update (%d -> %d requests)", cdsRequests, n)
	}
}

// TestListenerLifecycle: an unchanged listener keeps its socket across an LDS update, a moved
// one is rebound, a removed one closes.
func TestListenerLifecycle(t *testing.T) {
	be := backend(t, "b")
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-lifecycle"
	routes := routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))
	set := func(version string, listeners ...types.Resource) {
		xds.set(t, node, snapshot{
			versions: map[string]string{lds: version, rds: "r1", cds: "c1", eds: "e1"},
			resources: map[string][]types.Resource{
				lds: listeners, rds: {routes},
				cds: {edsCluster("b")}, eds: {loadAssignment(t, "b", be)},
			},
		})
	}
	var mu sync.Mutex
	binds := map[string]int{}
	p := New(Options{XDSAddr: xds.addr, NodeID: node, Rebind: func(a string) string {
		mu.Lock()
		binds[a]++
		mu.Unlock()
		return "127.0.0.1:0"
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	set("l1", httpListener("a", "0.0.0.0", 8080, "r"), httpListener("b", "0.0.0.0", 8081, "r"))
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"}) // the first routes are served before their endpoints arrive
	a1, b1 := p.ListenerAddr("a"), p.ListenerAddr("b")
	c := newClient()
	defer c.CloseIdleConnections()
	for _, addr := range []string{a1, b1} {
		if code, _ := get(t, c, addr, "svc", "/"); code != 200 {
			t.Fatalf("%s: %d", addr, code)
		}
	}

	// "a" unchanged, "b" moves to another port, "c" is new.
	set("l2", httpListener("a", "0.0.0.0", 8080, "r"), httpListener("b", "0.0.0.0", 9090, "r"), httpListener("c", "0.0.0.0", 7070, "r"))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("a"); got != a1 {
		t.Errorf("unchanged listener rebound: %s -> %s", a1, got)
	}
	b2 := p.ListenerAddr("b")
	if b2 == b1 || b2 == "" {
		t.Errorf("moved listener not rebound: %s -> %s", b1, b2)
	}
	mu.Lock()
	if binds["0.0.0.0:8080"] != 1 || binds["0.0.0.0:9090"] != 1 || binds["0.0.0.0:7070"] != 1 {
		t.Errorf("binds: %v", binds)
	}
	mu.Unlock()
	if code, _ := get(t, c, p.ListenerAddr("c"), "svc", "/"); code != 200 {
		t.Errorf("new listener: %d", code)
	}

	// "b" removed: its socket closes.
	set("l3", httpListener("a", "0.0.0.0", 8080, "r"), httpListener("c", "0.0.0.0", 7070, "r"))
	waitVersions(t, p, map[string]string{lds: "l3"})
	if got := p.ListenerAddr("b"); got != "" {
		t.Errorf("removed listener still reported at %s", got)
	}
	c.CloseIdleConnections()
	deadline := time.Now().Add(testTimeout)
	for {
		if _, _, err := tryGet(c, b2, "svc", "/"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed listener %s still accepts requests", b2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get(t, c, a1, "svc", "/"); code != 200 {
		t.Errorf("listener a after removing b: %d", code)
	}

	// "a" changes but keeps its address: same socket.
	changed := hcmOf(httpListener("a", "0.0.0.0", 8080, "r"), func(m *hcmv3.HttpConnectionManager) { m.StatPrefix = "renamed" })
	set("l4", changed, httpListener("c", "0.0.0.0", 7070, "r"))
	waitVersions(t, p, map[string]string{lds: "l4"})
	mu.Lock()
	if got := p.ListenerAddr("a"); got != a1 || binds["0.0.0.0:8080"] != 1 {
		t.Errorf("listener changed at the same address was rebound: %s -> %s (%d binds)", a1, got, binds["0.0.0.0:8080"])
	}
	mu.Unlock()
}
