package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestGRPCClientDNSService: a real grpc-go xDS client calls a gRPC service that a ServiceEntry
// with resolution DNS declares at the host name localhost. The grpc role serves it as a
// LOGICAL_DNS cluster of that one name and port, which the client resolves itself (gRFC A37),
// and the service's routes apply as for any other: a header-matched fault abort is injected by
// the client, every other call reaches the backend.
func TestGRPCClientDNSService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	backend := startEcho(t, "dns", 0)
	_, port, _ := strings.Cut(backend.addr, ":")
	_, pub := publishTree(t, ctx, map[string]string{
		"policies/external.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external
spec:
  hosts: [echo.external.example]
  location: MESH_EXTERNAL
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  resolution: DNS
  endpoints:
  - address: localhost
    ports: {grpc: %s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: external
spec:
  hosts: [echo.external.example]
  http:
  - name: fault
    match:
    - headers: {x-fault: {exact: abort}}
    fault:
      abort:
        grpcStatus: PERMISSION_DENIED
        percentage: {value: 100}
    route:
    - destination: {host: echo.external.example}
  - name: default
    route:
    - destination: {host: echo.external.example}
`, port),
	})
	client := xdsTestClient(t, pub, `{"id": "grpc-dns-client", "locality": {}}`, "xds:///echo.external.example:7070")
	call := func(headers ...string) (string, error) {
		cctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, headers...), 5*time.Second)
		defer cancel()
		return hostnameOf(client.UnaryCall(cctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true)))
	}
	for range 10 {
		if name, err := call(); err != nil || name != "dns" {
			t.Fatalf("call to echo.external.example:7070: %q, %v; want the backend at localhost:%s", name, err, port)
		}
	}
	before := backend.calls.Load()
	if _, err := call("x-fault", "abort"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("x-fault: abort: got %v, want PERMISSION_DENIED injected by the client", err)
	}
	if n := backend.calls.Load() - before; n != 0 {
		t.Fatalf("%d aborted calls reached the backend", n)
	}
}
