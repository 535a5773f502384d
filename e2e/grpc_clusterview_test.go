package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// TestGRPCClientClusterView: a proxyless grpc-go client is sent the clusters of the services
// its namespace sees only. ledger (team-a) is exported to team-a alone: a client in team-b
// keeps calling echo, which every namespace sees, while it is sent no ledger cluster and its
// calls to ledger fail; a client in team-a reaches both.
func TestGRPCClientClusterView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west, ledger := startEcho(t, "east", 0), startEcho(t, "west", 0), startEcho(t, "ledger", 0)
	files := localityEcho(east, west, "    loadBalancer: {simple: ROUND_ROBIN}\n")
	host, port, _ := strings.Cut(ledger.addr, ":")
	files["policies/ledger.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ledger, namespace: team-a}
spec:
  hosts: [ledger.team-a.svc.cluster.local]
  exportTo: ["."]
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints:
  - {address: %s, ports: {grpc: %s}}
`, host, port)
	_, pub := publishTree(t, ctx, files)

	inB := xdsTestClient(t, pub, `{"id": "grpc-team-b", "metadata": {"NAMESPACE": "team-b"}}`, "xds:///echo.default.svc.cluster.local:7070")
	if got := callCounts(t, ctx, inB, 10); got["east"]+got["west"] != 10 {
		t.Errorf("client in team-b, echo: %v, want 10 answers", got)
	}
	ledgerB := xdsTestClient(t, pub, `{"id": "grpc-team-b-ledger", "metadata": {"NAMESPACE": "team-b"}}`, "xds:///ledger.team-a.svc.cluster.local:7070")
	cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := ledgerB.UnaryCall(cctx, &testgrpc.SimpleRequest{})
	ccancel()
	if err == nil {
		t.Errorf("client in team-b reached ledger, which is not exported to team-b")
	}
	for _, s := range pub.Status().Proxies {
		if s.NodeID == "grpc-team-b" || s.NodeID == "grpc-team-b-ledger" {
			if s.Error != nil {
				t.Errorf("%s rejected its configuration: %s", s.NodeID, *s.Error)
			}
		}
	}

	inA := xdsTestClient(t, pub, `{"id": "grpc-team-a", "metadata": {"NAMESPACE": "team-a"}}`, "xds:///ledger.team-a.svc.cluster.local:7070")
	if got := callCounts(t, ctx, inA, 5); got["ledger"] != 5 {
		t.Errorf("client in team-a, ledger: %v, want 5 answers from ledger", got)
	}
}
