package proxy

import (
	"net/http/httptest"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// TestServerStopAndRestart: with the server gone the proxy keeps serving what it has; a new
// server on the same address is found again, told the versions the proxy holds, and its
// configuration is applied.
func TestServerStopAndRestart(t *testing.T) {
	v1, v2 := backend(t, "v1"), backend(t, "v2")
	clusters := map[string][]*httptest.Server{"v1": {v1}, "v2": {v2}}
	cfg := sidecar{version: "r1", clusters: clusters,
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "v1")))}
	xds, p, addr := setup(t, cfg)
	c := newClient()
	defer c.CloseIdleConnections()

	xds.grpc.Stop()
	deadline := time.Now().Add(testTimeout)
	for p.configDump().Connected {
		if time.Now().After(deadline) {
			t.Fatal("proxy still reports a connection to a stopped server")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 20 {
		if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "v1" {
			t.Fatalf("server stopped: %d from %q, want the last configuration serving", code, got)
		}
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnects

	restarted := startXDS(t, xds.addr)
	cfg.version = "r2"
	cfg.routes = routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "v2")))
	restarted.set(t, "node-"+t.Name(), cfg.snapshot(t))
	waitVersions(t, p, map[string]string{rds: "r2"})
	if code, got := get(t, c, addr, "svc", "/"); code != 200 || got != "v2" {
		t.Errorf("after restart: %d from %q, want v2", code, got)
	}
	if got := p.ListenerAddr("out"); got != addr {
		t.Errorf("listener rebound after reconnect: %s -> %s", addr, got)
	}
	// The proxy resumed with the versions it held, and named its node on the new stream.
	first := restarted.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool { return r.GetTypeUrl() == lds })
	if first.GetVersionInfo() != "l1" || first.GetNode().GetId() != "node-"+t.Name() {
		t.Errorf("first LDS request after reconnect: version %q node %q", first.GetVersionInfo(), first.GetNode().GetId())
	}
	if ua := first.GetNode().GetUserAgentName(); ua != "signalbox-proxy" {
		t.Errorf("user_agent_name %q", ua)
	}
	if got := first.GetNode().GetMetadata().GetFields()["labels"].GetStructValue().GetFields()["app"].GetStringValue(); got != "test" {
		t.Errorf("node metadata labels.app = %q", got)
	}
}
