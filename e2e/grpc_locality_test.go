package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// localityEcho is one gRPC service with a workload in us-east and one in us-west, and the
// DestinationRule trafficPolicy given.
func localityEcho(east, west *echoBackend, trafficPolicy string) map[string]string {
	ep := func(b *echoBackend, locality string) string {
		host, port, _ := strings.Cut(b.addr, ":")
		return fmt.Sprintf("  - {address: %s, ports: {grpc: %s}, locality: %s}\n", host, port, locality)
	}
	return map[string]string{"policies/echo.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.default.svc.cluster.local]
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints:
` + ep(east, "us-east/zone-a") + ep(west, "us-west/zone-a") + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  trafficPolicy:
` + trafficPolicy}
}

// callCounts makes n calls and counts them by the backend that answered.
func callCounts(t *testing.T, ctx context.Context, client testgrpc.TestServiceClient, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		name, err := hostnameOf(client.UnaryCall(cctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got[name]++
	}
	return got
}

// TestGRPCClientLocalityFailover: a proxyless grpc-go client that names its locality in its
// bootstrap is sent endpoints prioritised for it, keeps to its own region, and fails over to
// the other when its region's workload goes away.
func TestGRPCClientLocalityFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west := startEcho(t, "east", 0), startEcho(t, "west", 0)
	_, pub := publishTree(t, ctx, localityEcho(east, west, "    outlierDetection: {consecutive5xxErrors: 3}\n"))
	client := xdsTestClient(t, pub, `{"id": "grpc-west-1", "locality": {"region": "us-west", "zone": "zone-a"}}`,
		"xds:///echo.default.svc.cluster.local:7070")

	if got := callCounts(t, ctx, client, 40); got["west"] != 40 {
		t.Fatalf("client in us-west: %v, want all 40 on west", got)
	}
	west.srv.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for callCounts(t, ctx, client, 1)["east"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("west stopped 10s ago and calls still do not reach east")
		}
	}
	if got := callCounts(t, ctx, client, 20); got["east"] != 20 {
		t.Errorf("west gone: %v, want all 20 on east", got)
	}
}

// TestGRPCClientLocalityDistribute: the client weighs localities by the weights distribute
// gives its own locality.
func TestGRPCClientLocalityDistribute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west := startEcho(t, "east", 0), startEcho(t, "west", 0)
	_, pub := publishTree(t, ctx, localityEcho(east, west, `    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us-east/*
          to: {"us-east/*": 80, "us-west/*": 20}
`))
	client := xdsTestClient(t, pub, `{"id": "grpc-east-1", "locality": {"region": "us-east", "zone": "zone-b"}}`,
		"xds:///echo.default.svc.cluster.local:7070")
	// Until both localities' connections are ready the client picks among the ready ones only
	// (grpc-go's weighted_target): wait for an answer from each before counting.
	for seen := map[string]int{}; seen["east"] == 0 || seen["west"] == 0; {
		maps.Copy(seen, callCounts(t, ctx, client, 1))
	}
	const n = 400
	got := callCounts(t, ctx, client, n)
	if share := float64(got["east"]) / n; got["east"]+got["west"] != n || share < 0.7 || share > 0.9 {
		t.Errorf("client in us-east: %v, want 80±10%% on east", got)
	}
}
