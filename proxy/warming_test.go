package proxy

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
)

// A server may send a route update before the clusters it names (go-control-plane does, out
// of ADS mode). The previous routes keep serving until those clusters and their endpoints
// arrive: make before break, whatever the order.
func TestNewRoutesWaitForTheirClusters(t *testing.T) {
	v1, fresh := backend(t, "v1"), backend(t, "fresh")
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"v1": {v1}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "v1")))}
	xds, p, addr := setup(t, cfg)
	node := "node-" + t.Name()
	c := newClient()

	// Routes first: "fresh" is not a cluster yet.
	early := cfg.snapshot(t)
	early.versions[rds] = "r2"
	early.resources[rds] = []types.Resource{routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "fresh")))}
	xds.set(t, node, early)
	waitVersions(t, p, map[string]string{rds: "r2"})
	for range 10 {
		if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "v1" {
			t.Fatalf("routes ahead of their cluster: %d from %q, want the previous routes (v1)", code, got)
		}
	}

	// Then the cluster and its endpoints.
	full := early
	full.versions = map[string]string{lds: "l1", rds: "r2", cds: "c2", eds: "e2"}
	full.resources[cds] = append(full.resources[cds], edsCluster("fresh"))
	full.resources[eds] = append(full.resources[eds], loadAssignment(t, "fresh", fresh))
	xds.set(t, node, full)
	waitVersions(t, p, map[string]string{cds: "c2", eds: "e2"})
	if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "fresh" {
		t.Errorf("after the cluster arrived: %d from %q, want fresh", code, got)
	}
}

// A cluster removed by CDS stays reachable from the unchanged routes that still name it,
// until the route update that stops naming it.
func TestRemovedClusterServesUntilRoutesMoveOn(t *testing.T) {
	old, next := backend(t, "old"), backend(t, "next")
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"old": {old}, "next": {next}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "old")))}
	xds, p, addr := setup(t, cfg)
	node := "node-" + t.Name()
	c := newClient()

	clustersFirst := sidecar{version: "r1", routes: cfg.routes, clusters: map[string][]*httptest.Server{"next": {next}}}.snapshot(t)
	clustersFirst.versions[cds], clustersFirst.versions[eds] = "c2", "e2"
	xds.set(t, node, clustersFirst)
	waitVersions(t, p, map[string]string{cds: "c2"})
	if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "old" {
		t.Errorf("cluster removed ahead of its routes: %d from %q, want old", code, got)
	}

	routesNext := clustersFirst
	routesNext.versions[rds] = "r2"
	routesNext.resources[rds] = []types.Resource{routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "next")))}
	xds.set(t, node, routesNext)
	waitVersions(t, p, map[string]string{rds: "r2"})
	if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "next" {
		t.Errorf("after the routes moved on: %d from %q, want next", code, got)
	}
}

// A route configuration naming a cluster that never comes is applied after warmTimeout.
func TestWaitingRoutesTimeOut(t *testing.T) {
	v1 := backend(t, "v1")
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"v1": {v1}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "v1")))}
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, cfg.snapshot(t))
	p := New(Options{XDSAddr: xds.addr, NodeID: node, Rebind: func(string) string { return "127.0.0.1:0" }})
	p.warmTimeout = 200 * time.Millisecond
	runProxy(t, p)
	waitVersions(t, p, map[string]string{rds: "r1", eds: "e1"})
	addr := p.ListenerAddr("out")

	ghost := cfg.snapshot(t)
	ghost.versions[rds] = "r2"
	ghost.resources[rds] = []types.Resource{routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "ghost")))}
	xds.set(t, node, ghost)
	waitVersions(t, p, map[string]string{rds: "r2"})
	c := newClient()
	if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "v1" {
		t.Errorf("while waiting: %d from %q", code, got)
	}
	deadline := time.Now().Add(testTimeout)
	for {
		code, _ := get(t, c, addr, "svc", "/")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("routes to a cluster that never came were never applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
