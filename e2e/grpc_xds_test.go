package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/publisher"
)

// echoBackend is a gRPC test service that answers with its name; with failEvery > 0 every
// failEvery-th call fails with UNAVAILABLE, so retries have something to do.
type echoBackend struct {
	testgrpc.UnimplementedTestServiceServer
	name      string
	failEvery int64
	calls     atomic.Int64
	addr      string
	srv       *grpc.Server
}

func (e *echoBackend) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := e.calls.Add(1)
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("x-timeout")) > 0 {
		select { // slower than the route's timeout
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if e.failEvery > 0 && n%e.failEvery == 1 {
		return nil, status.Error(codes.Unavailable, e.name+" is flaky")
	}
	return &testgrpc.SimpleResponse{Hostname: e.name}, nil
}

// FullDuplexCall echoes each message's payload as it comes, so a client that waits for each
// answer before sending the next shows the stream is relayed as it goes, not buffered.
func (e *echoBackend) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
			return err
		}
	}
}

func startEcho(t *testing.T, name string, failEvery int64) *echoBackend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoBackend{name: name, failEvery: failEvery, addr: lis.Addr().String(), srv: grpc.NewServer()}
	testgrpc.RegisterTestServiceServer(e.srv, e)
	go e.srv.Serve(lis)
	t.Cleanup(e.srv.Stop)
	return e
}

// grpcMesh is the policy tree of the test: one gRPC service with three workloads, routed on
// headers (fault, version, retry) with a weighted default.
func grpcMesh(v1, v2, flaky *echoBackend) map[string]string {
	ep := func(b *echoBackend, version string) string {
		host, port, _ := strings.Cut(b.addr, ":")
		return fmt.Sprintf("  - address: %s\n    ports: {grpc: %s}\n    labels: {version: %s}\n", host, port, version)
	}
	return map[string]string{
		"policies/echo.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: echo
spec:
  hosts: [echo.default.svc.cluster.local]
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  resolution: STATIC
  endpoints:
` + ep(v1, "v1") + ep(v2, "v2") + ep(flaky, "flaky") + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: flaky, labels: {version: flaky}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - name: fault
    match:
    - headers: {x-fault: {exact: abort}}
    fault:
      abort:
        grpcStatus: RESOURCE_EXHAUSTED
        percentage: {value: 100}
    route:
    - destination: {host: echo, subset: v1}
  - name: bounded
    match:
    - headers: {x-timeout: {exact: "yes"}}
    timeout: 100ms
    route:
    - destination: {host: echo, subset: v1}
  - name: pinned
    match:
    - headers: {x-version: {exact: v2}}
    route:
    - destination: {host: echo, subset: v2}
  - name: retried
    match:
    - headers: {x-retry: {exact: "yes"}}
    retries: {attempts: 3, retryOn: unavailable}
    route:
    - destination: {host: echo, subset: flaky}
  - name: unretried
    match:
    - headers: {x-retry: {exact: "no"}}
    retries: {attempts: 0}
    route:
    - destination: {host: echo, subset: flaky}
  - name: split
    route:
    - destination: {host: echo, subset: v1}
      weight: 75
    - destination: {host: echo, subset: v2}
      weight: 25
`,
	}
}

// TestGRPCClientFollowsPublisher drives a real grpc-go xDS client (target xds:///host:port)
// against the publisher: the client takes the gRPC role by its user agent and honours weighted
// split, header match, fault abort, route timeout and retry.
func TestGRPCClientFollowsPublisher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v1, v2, flaky := startEcho(t, "v1", 0), startEcho(t, "v2", 0), startEcho(t, "flaky", 2)
	repo, pub := publishTree(t, ctx, grpcMesh(v1, v2, flaky))
	client := xdsTestClient(t, pub, `{"id": "grpc-client-1", "locality": {}}`, "xds:///echo.default.svc.cluster.local:7070")

	call := func(headers ...string) (string, error) {
		cctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, headers...), 5*time.Second)
		defer cancel()
		return hostnameOf(client.UnaryCall(cctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true)))
	}

	t.Run("weighted split", func(t *testing.T) {
		const n = 400
		counts := map[string]int{}
		for range n {
			name, err := call()
			if err != nil {
				t.Fatal(err)
			}
			counts[name]++
		}
		if share := float64(counts["v1"]) / n; counts["v1"]+counts["v2"] != n || share < 0.65 || share > 0.85 {
			t.Fatalf("want 75±10%% on v1 and the rest on v2, got %v", counts)
		}
	})
	t.Run("header match", func(t *testing.T) {
		for range 20 {
			if name, err := call("x-version", "v2"); err != nil || name != "v2" {
				t.Fatalf("x-version: v2 went to %q (%v), want v2", name, err)
			}
		}
	})
	t.Run("fault abort", func(t *testing.T) {
		v1.calls.Store(0)
		for range 10 {
			_, err := call("x-fault", "abort")
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("x-fault: abort: got %v, want RESOURCE_EXHAUSTED injected by the client", err)
			}
		}
		if n := v1.calls.Load(); n != 0 {
			t.Fatalf("%d aborted calls reached v1: the abort is injected before the upstream", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, err := call("x-timeout", "yes")
		if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > time.Second {
			t.Fatalf("route timeout 100ms: got %v after %v, want DEADLINE_EXCEEDED at once", err, time.Since(start))
		}
	})
	t.Run("retry", func(t *testing.T) {
		// flaky fails every other call: with 3 retries on UNAVAILABLE every call succeeds...
		for range 20 {
			if name, err := call("x-retry", "yes"); err != nil || name != "flaky" {
				t.Fatalf("retried call: %q, %v", name, err)
			}
		}
		// ...and without retries half of them fail.
		failed := 0
		for range 20 {
			if _, err := call("x-retry", "no"); status.Code(err) == codes.Unavailable {
				failed++
			}
		}
		if failed < 5 {
			t.Fatalf("without retries %d of 20 calls failed; the flaky backend fails every other call", failed)
		}
	})
	t.Run("follows a commit", func(t *testing.T) {
		// The split moves to v2 alone: a commit that changes one route configuration, which
		// the client asks for by name and is sent as a change.
		mesh := grpcMesh(v1, v2, flaky)["policies/echo.yaml"]
		moved := strings.Replace(strings.Replace(mesh, "weight: 75", "weight: 0", 1), "weight: 25", "weight: 100", 1)
		if _, err := repo.CommitFiles("echo: all on v2", map[string][]byte{"policies/echo.yaml": []byte(moved)}); err != nil {
			t.Fatal(err)
		}
		if err := pub.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for streak := 0; streak < 50; {
			name, err := call()
			if err != nil {
				t.Fatal(err)
			}
			if name != "v2" {
				streak = 0
				if time.Now().After(deadline) {
					t.Fatalf("still routed to %s 5s after the commit", name)
				}
				continue
			}
			streak++
		}
	})
}

// publishTree commits files (paths under policies/) to a new repository and runs a publisher
// on it, on loopback, until ctx ends.
func publishTree(t *testing.T, ctx context.Context, files map[string]string) (*demo.Repo, *publisher.Publisher) {
	t.Helper()
	repo, err := demo.InitRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		if err := repo.WriteFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := repo.Commit("policies"); err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.New(publisher.Config{Repo: repo.Dir, Branch: "main", Dir: "policies", Poll: time.Hour,
		XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pub.Status(); st.LastError != nil {
		t.Fatalf("publisher refused the tree: %+v", st.LastError)
	}
	return repo, pub
}

// xdsTestClient is a grpc-go xDS client of target, following pub with its own bootstrap whose
// node is the given JSON, closed when the test ends.
func xdsTestClient(t *testing.T, pub *publisher.Publisher, node, target string) testgrpc.TestServiceClient {
	t.Helper()
	bootstrap := fmt.Sprintf(`{
  "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
  "node": %s
}`, pub.XDSAddr(), node)
	resolver, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(resolver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testgrpc.NewTestServiceClient(conn)
}

func hostnameOf(resp *testgrpc.SimpleResponse, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return resp.GetHostname(), nil
}
