package proxy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"
)

// A mesh of ~10,000 services sends a route table of many megabytes in one response; the proxy
// must accept it rather than fail the stream at gRPC's default 4 MiB receive limit.
func TestRouteTableLargerThanGRPCDefaultLimit(t *testing.T) {
	b := backend(t, "big")
	var vhosts []*routev3.VirtualHost
	for i := 0; i < 25000; i++ {
		host := fmt.Sprintf("svc-%05d.default.svc.cluster.local", i)
		vhosts = append(vhosts, vhost(host, []string{host, host + ":8080", fmt.Sprintf("svc-%05d", i)},
			prefixRoute("/api/v1/some/long/prefix/to/make/the/table/realistic", "c"), prefixRoute("/", "c")))
	}
	rc := routeConfiguration("r", vhosts...)
	if size := proto.Size(rc); size <= 4<<20 {
		t.Fatalf("route table is only %d bytes; the test needs more than 4 MiB", size)
	}
	// Decoding and checking 50,000 routes takes seconds under the race detector while other
	// tests run: this one waits longer than setup does.
	cfg := sidecar{routes: rc, clusters: map[string][]*httptest.Server{"c": {b}}, version: "big-1"}
	xds := startXDS(t, "127.0.0.1:0")
	xds.set(t, "node-"+t.Name(), cfg.snapshot(t))
	p := startProxy(t, xds.addr, "node-"+t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 6*testTimeout)
	defer cancel()
	for typ, v := range map[string]string{lds: "l1", rds: "big-1", cds: "c1", eds: "e1"} {
		if err := p.WaitVersion(ctx, typ, v); err != nil {
			t.Fatal(err)
		}
	}
	addr := p.ListenerAddr("out")
	if code, body := get(t, newClient(), addr, "svc-24999.default.svc.cluster.local:8080", "/"); code != 200 || body != "big" {
		t.Fatalf("got %d %q, want 200 from backend big", code, body)
	}
}
