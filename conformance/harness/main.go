// Command harness runs what the conformance clients talk to: gRPC backends on loopback (v1,
// v2, and flaky, which fails every other call with UNAVAILABLE, behind the echo service; a
// call carrying x-timeout takes 2 s; east and west, in us-east/zone-a and us-west/zone-a,
// behind the nearby and weighted services), a policy tree committed to a fresh git
// repository, and the publisher following it. It writes an xDS bootstrap for the clients,
// whose node is in us-west/zone-a, prints "READY" with the targets and serves until its
// standard input closes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/publisher"
)

// The xDS targets every client dials: Target for the routing checks, Nearby (locality
// failover: outlier detection set) and Weighted (localityLbSetting distribute) for the
// locality checks.
const (
	Target   = "xds:///echo.default.svc.cluster.local:7070"
	Nearby   = "xds:///nearby.default.svc.cluster.local:7070"
	Weighted = "xds:///weighted.default.svc.cluster.local:7070"
)

// Locality is where the clients' bootstrap places them: the nearby and weighted services
// have an endpoint here and one in us-east/zone-a.
var Locality = map[string]any{"region": "us-west", "zone": "zone-a"}

func main() {
	out := flag.String("bootstrap", "bootstrap.json", "where to write the clients' xDS bootstrap")
	flag.Parse()
	if err := run(*out); err != nil {
		log.Fatal(err)
	}
}

func run(bootstrapPath string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var eps strings.Builder
	for _, b := range []struct {
		name      string
		failEvery int64
	}{{"v1", 0}, {"v2", 0}, {"flaky", 2}} {
		addr, err := serveBackend(b.name, b.failEvery)
		if err != nil {
			return err
		}
		host, port, _ := strings.Cut(addr, ":")
		fmt.Fprintf(&eps, "  - {address: %s, ports: {grpc: %s}, labels: {version: %s}}\n", host, port, b.name)
	}
	placed := map[string]string{}
	for _, name := range []string{"east", "west"} {
		addr, err := serveBackend(name, 0)
		if err != nil {
			return err
		}
		host, port, _ := strings.Cut(addr, ":")
		placed[name] = fmt.Sprintf("address: %s, ports: {grpc: %s}", host, port)
	}
	dir, err := os.MkdirTemp("", "signalbox-conformance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	repo, err := demo.InitRepo(dir)
	if err != nil {
		return err
	}
	policy := strings.NewReplacer("ENDPOINTS\n", eps.String(), "EAST_ENDPOINT", placed["east"], "WEST_ENDPOINT", placed["west"]).Replace(tree)
	if err := repo.WriteFile("policies/echo.yaml", []byte(policy)); err != nil {
		return err
	}
	if _, err := repo.Commit("echo: gRPC routing; nearby, weighted: locality"); err != nil {
		return err
	}
	pub, err := publisher.New(publisher.Config{Repo: repo.Dir, Branch: "main", Dir: "policies", Poll: time.Hour,
		XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	if err := pub.Start(ctx); err != nil {
		return err
	}
	if st := pub.Status(); st.LastError != nil {
		return fmt.Errorf("publisher refused the tree: %s", st.LastError.Message)
	}
	bootstrap := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      pub.XDSAddr(),
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []any{"xds_v3"},
		}},
		"node": map[string]any{"id": "conformance-client", "locality": Locality},
	}
	b, _ := json.MarshalIndent(bootstrap, "", "  ")
	if err := os.WriteFile(bootstrapPath, b, 0o644); err != nil {
		return err
	}
	abs, _ := filepath.Abs(bootstrapPath)
	fmt.Printf("READY target=%s nearby=%s weighted=%s bootstrap=%s\n", Target, Nearby, Weighted, abs)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// serveBackend answers every call of any method with an empty message and its name in the
// "x-backend" response header, so clients need no generated code.
func serveBackend(name string, failEvery int64) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var calls atomic.Int64
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req rawMessage
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		if md, _ := metadata.FromIncomingContext(stream.Context()); len(md.Get("x-timeout")) > 0 {
			select { // slower than the route's timeout
			case <-time.After(2 * time.Second):
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if n := calls.Add(1); failEvery > 0 && n%failEvery == 1 {
			// No response headers first: a client that saw headers may not retry the call.
			return status.Error(codes.Unavailable, name+" is flaky")
		}
		stream.SetHeader(metadata.Pairs("x-backend", name))
		return stream.SendMsg(&rawMessage{})
	}), grpc.ForceServerCodecV2(rawCodec{}))
	go srv.Serve(lis)
	return lis.Addr().String(), nil
}

// tree is the policy tree the clients follow: the echo service routed on headers, then the
// services of the locality checks. ENDPOINTS, EAST_ENDPOINT and WEST_ENDPOINT stand for the
// backends' addresses.
var tree = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.default.svc.cluster.local]
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  resolution: STATIC
  endpoints:
ENDPOINTS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: flaky, labels: {version: flaky}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  http:
  - name: fault
    match: [{headers: {x-fault: {exact: abort}}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route: [{destination: {host: echo, subset: v1}}]
  - name: bounded
    match: [{headers: {x-timeout: {exact: "yes"}}}]
    timeout: 100ms
    route: [{destination: {host: echo, subset: v1}}]
  - name: pinned
    match: [{headers: {x-version: {exact: v2}}}]
    route: [{destination: {host: echo, subset: v2}}]
  - name: retried
    match: [{headers: {x-retry: {exact: "yes"}}}]
    retries: {attempts: 3, retryOn: unavailable}
    route: [{destination: {host: echo, subset: flaky}}]
  - name: unretried
    match: [{headers: {x-retry: {exact: "no"}}}]
    retries: {attempts: 0}
    route: [{destination: {host: echo, subset: flaky}}]
  - name: split
    route:
    - {destination: {host: echo, subset: v1}, weight: 75}
    - {destination: {host: echo, subset: v2}, weight: 25}
` +
	// nearby: outlier detection turns on Istio's default locality failover, so a client keeps
	// to its own zone while it is up.
	localityService("nearby", `
    outlierDetection: {consecutive5xxErrors: 3}
`) +
	// weighted: a client in us-west weighs its own region 80 and us-east 20.
	localityService("weighted", `
    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us-west/*
          to: {"us-west/*": 80, "us-east/*": 20}
`)

// localityService is a service with one endpoint in us-east and one in the clients' us-west,
// and a DestinationRule with trafficPolicy (YAML fields).
func localityService(name, trafficPolicy string) string {
	return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ` + name + `}
spec:
  hosts: [` + name + `.default.svc.cluster.local]
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  resolution: STATIC
  endpoints:
  - {EAST_ENDPOINT, locality: us-east/zone-a}
  - {WEST_ENDPOINT, locality: us-west/zone-a}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ` + name + `}
spec:
  host: ` + name + `
  trafficPolicy:` + trafficPolicy
}
