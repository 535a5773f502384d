package e2e

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
)

// Locality load balancing: each sidecar reports where it runs (--locality), and the publisher
// sends it endpoints prioritised and weighted for that place, as istiod does per proxy.

// placedEndpoint is a ServiceEntry endpoint line for e in locality.
func (e *echoServer) placedEndpoint(locality string) string {
	h, p := e.hostPort()
	return fmt.Sprintf("  - {address: %s, ports: {http: %s}, locality: %s}\n", h, p, locality)
}

// sidecarAt runs one more sidecar on the mesh's publisher, in locality, until it applied the
// mesh's commit, and returns the mesh as seen through it. Labels given as k=v join app=client.
func sidecarAt(t *testing.T, m *meshEnv, id, locality string, labels ...string) *meshEnv {
	t.Helper()
	loc, err := proxy.ParseLocality(locality)
	if err != nil {
		t.Fatal(err)
	}
	ls := map[string]string{"app": "client"}
	for _, kv := range labels {
		k, v, _ := strings.Cut(kv, "=")
		ls[k] = v
	}
	return sidecarWith(t, m, proxy.Options{NodeID: id, Labels: ls, Locality: loc})
}

// sidecarWith runs one more sidecar on the mesh's publisher, as opts say (node id, labels,
// locality, namespace), until it applied the mesh's commit, and returns the mesh as seen
// through it.
func sidecarWith(t *testing.T, m *meshEnv, opts proxy.Options) *meshEnv {
	t.Helper()
	opts.XDSAddr = m.pub.XDSAddr()
	opts.Rebind = func(string) string { return "127.0.0.1:0" }
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	px := proxy.New(opts)
	go px.Run(m.ctx)
	if _, err := demo.AwaitSync(m.ctx, m.pub, m.pub.Status().Commit, opts.NodeID); err != nil {
		t.Fatalf("%s never applied the tree: %v", opts.NodeID, err)
	}
	at := *m
	at.px, at.addr = px, px.ListenerAddr(demo.SidecarListener)
	return &at
}

// localityMesh runs the mesh with reviews.mesh on three backends, in us-east/zone-a,
// us-east/zone-b and us-west/zone-a, and its DestinationRule's trafficPolicy (YAML fields).
func localityMesh(t *testing.T, trafficPolicy string) (m *meshEnv, eastA, eastB, west *echoServer) {
	t.Helper()
	eastA, eastB, west = startEchoServer(t, "east-a"), startEchoServer(t, "east-b"), startEchoServer(t, "west")
	m = startMesh(t, map[string]string{"policies/reviews.yaml": serviceEntry("reviews", "reviews.mesh",
		eastA.placedEndpoint("us-east/zone-a"), eastB.placedEndpoint("us-east/zone-b"), west.placedEndpoint("us-west/zone-a")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.mesh
  trafficPolicy:` + trafficPolicy})
	return m, eastA, eastB, west
}

// unavailable makes e answer every request 503, as a failing workload would.
func (e *echoServer) unavailable() {
	e.setBehave(func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
}

// backendsOf sends n requests for host and counts the answers by backend ("" for a status
// other than 200).
func (m *meshEnv) backendsOf(host string, n int) map[string]int {
	m.t.Helper()
	got := map[string]int{}
	for range n {
		r := m.get(host, "/", nil)
		if r.status != http.StatusOK {
			got[fmt.Sprint(r.status)]++
			continue
		}
		got[r.echo.Name]++
	}
	return got
}

// TestFeatureLocalityFailover: with outlier detection, Istio's default locality setting
// sends each proxy's traffic to its own zone, then its region, then elsewhere, as each level
// is ejected.
func TestFeatureLocalityFailover(t *testing.T) {
	m, eastA, eastB, _ := localityMesh(t, `
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100}
`)
	east := sidecarAt(t, m, "east-1", "us-east/zone-a")
	westSide := sidecarAt(t, m, "west-1", "us-west/zone-a")

	if got := east.backendsOf("reviews.mesh", 20); got["east-a"] != 20 {
		t.Fatalf("sidecar in us-east/zone-a: %v, want all 20 on east-a", got)
	}
	if got := westSide.backendsOf("reviews.mesh", 20); got["west"] != 20 {
		t.Fatalf("sidecar in us-west/zone-a: %v, want all 20 on west", got)
	}
	// A proxy with no locality is as far from every endpoint: all share one priority.
	if got := m.backendsOf("reviews.mesh", 30); got["east-a"] != 10 || got["east-b"] != 10 || got["west"] != 10 {
		t.Errorf("sidecar without a locality: %v, want 10 on each", got)
	}

	// east-a fails: once ejected, east's traffic stays in its region (east-b), not west.
	eastA.unavailable()
	east.backendsOf("reviews.mesh", 3) // the failures that eject east-a (retried elsewhere)
	if got := east.backendsOf("reviews.mesh", 20); got["east-b"] != 20 {
		t.Errorf("east-a ejected: %v, want all 20 on east-b (same region)", got)
	}
	// The west sidecar never sent east-a anything, and still goes west.
	if got := westSide.backendsOf("reviews.mesh", 10); got["west"] != 10 {
		t.Errorf("sidecar in us-west after east-a failed: %v, want all on west", got)
	}

	// east-b fails too: east's traffic leaves the region.
	eastB.unavailable()
	east.backendsOf("reviews.mesh", 3)
	if got := east.backendsOf("reviews.mesh", 20); got["west"] != 20 {
		t.Errorf("us-east ejected: %v, want all 20 on west", got)
	}
}

// TestFeatureLocalityDistribute: distribute weighs localities for proxies in a locality,
// without outlier detection; localities it does not name get nothing.
func TestFeatureLocalityDistribute(t *testing.T) {
	m, _, _, _ := localityMesh(t, `
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        distribute:
        - from: us-east/zone-a/*
          to: {"us-east/zone-a/*": 80, "us-west/*": 20}
`)
	east := sidecarAt(t, m, "east-1", "us-east/zone-a")
	got := east.backendsOf("reviews.mesh", 200)
	// Round robin over the weights is exact to within one cycle's interleaving.
	if got["east-a"] < 158 || got["east-a"] > 162 || got["west"] < 38 || got["west"] > 42 || got["east-b"] != 0 {
		t.Errorf("sidecar in us-east/zone-a: %v, want 160 east-a, 40 west, none on east-b", got)
	}
	// A proxy elsewhere has no rule: plain round robin over every endpoint.
	westSide := sidecarAt(t, m, "west-1", "us-west/zone-a")
	if got := westSide.backendsOf("reviews.mesh", 30); got["east-a"] != 10 || got["east-b"] != 10 || got["west"] != 10 {
		t.Errorf("sidecar in us-west: %v, want 10 on each", got)
	}
}

// TestLocalityThroughTheCommands runs `signalbox proxy --locality` as a process and reads
// `signalbox status`: the proxy keeps to its own zone, and the status table shows where it is.
func TestLocalityThroughTheCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the signalbox binary")
	}
	m, _, _, _ := localityMesh(t, `
    outlierDetection: {consecutive5xxErrors: 3}
`)
	px := startChild(t, nil, "proxy", "--xds", m.pub.XDSAddr(), "--node-id", "west-cli", "--locality", "us-west/zone-a",
		"--bind", "*=127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	through := *m
	through.addr = sidecarProcessAddr(t, px)
	if got := through.backendsOf("reviews.mesh", 20); got["west"] != 20 {
		t.Errorf("proxy process in us-west/zone-a: %v, want all 20 on west", got)
	}
	if _, err := demo.AwaitSync(m.ctx, m.pub, m.pub.Status().Commit, "west-cli"); err != nil {
		t.Fatal(err)
	}
	if got, inSync, out := statusCell(t, m, "west-cli", "LOCALITY"); got != "us-west/zone-a" || !inSync {
		t.Errorf("signalbox status: no row for west-cli in us-west/zone-a, in sync:\n%s", out)
	}
}

// TestFeatureLocalityFailoverPriority: failoverPriority ranks endpoints by the labels they share
// with the proxy, here the network (Istio's topology label), before nearness: a sidecar on
// network n2 in us-east prefers the us-west endpoint on its network to the one in its own zone.
func TestFeatureLocalityFailoverPriority(t *testing.T) {
	eastA, west := startEchoServer(t, "east-a"), startEchoServer(t, "west")
	onNetwork := func(e *echoServer, locality, network string) string {
		h, p := e.hostPort()
		return fmt.Sprintf("  - {address: %s, ports: {http: %s}, locality: %s, network: %s}\n", h, p, locality, network)
	}
	m := startMesh(t, map[string]string{"policies/reviews.yaml": serviceEntry("reviews", "reviews.mesh",
		onNetwork(eastA, "us-east/zone-a", "n1"), onNetwork(west, "us-west/zone-a", "n2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.mesh
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/network, topology.kubernetes.io/region]
    outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 60s, maxEjectionPercent: 100}
`})
	onN2 := sidecarAt(t, m, "n2-east", "us-east/zone-a", "topology.istio.io/network=n2")
	if got := onN2.backendsOf("reviews.mesh", 20); got["west"] != 20 {
		t.Errorf("sidecar on n2 in us-east: %v, want all 20 on west (its network)", got)
	}
	onN1 := sidecarAt(t, m, "n1-west", "us-west/zone-a", "topology.istio.io/network=n1")
	if got := onN1.backendsOf("reviews.mesh", 20); got["east-a"] != 20 {
		t.Errorf("sidecar on n1 in us-west: %v, want all 20 on east-a (its network)", got)
	}
	// Its network's endpoint ejected, the n2 sidecar fails over to the other network.
	west.unavailable()
	onN2.backendsOf("reviews.mesh", 3)
	if got := onN2.backendsOf("reviews.mesh", 20); got["east-a"] != 20 {
		t.Errorf("west ejected: %v, want all 20 on east-a", got)
	}
}

// statusCell runs `signalbox status` against the mesh's publisher and returns the named column
// of node's row, whether the row says it is in sync, and the whole output for messages.
func statusCell(t *testing.T, m *meshEnv, node, column string) (value string, inSync bool, out string) {
	t.Helper()
	b, err := exec.Command(signalboxBinary(t), "status", "--admin", m.pub.AdminAddr()).CombinedOutput()
	if err != nil {
		t.Fatalf("signalbox status: %v\n%s", err, b)
	}
	var header, row []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "NODE":
			header = f
		case len(f) > 0 && f[0] == node:
			row = f
		}
	}
	col := slices.Index(header, column)
	if col < 0 || len(row) <= col {
		return "", false, string(b)
	}
	return row[col], slices.Contains(row, "true"), string(b)
}
