package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A plain grpc-go client (no xDS of its own) calling through the sidecar, as an application
// with an Istio sidecar does: HTTP/2 in, HTTP/2 to the GRPC service's endpoints, the same
// policies as TestGRPCClientFollowsPublisher's proxyless client, and the proxy's own answers
// (timeout, no route) reaching the client as gRPC statuses, as Envoy's do.
func TestFeatureGRPCThroughSidecar(t *testing.T) {
	v1, v2, flaky := startEcho(t, "v1", 0), startEcho(t, "v2", 0), startEcho(t, "flaky", 2)
	m := startMesh(t, grpcMesh(v1, v2, flaky))
	dial := func(authority string) testgrpc.TestServiceClient {
		t.Helper()
		cc, err := grpc.NewClient("passthrough:///"+m.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithAuthority(authority))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return testgrpc.NewTestServiceClient(cc)
	}
	echo := dial("echo.default.svc.cluster.local:7070")
	call := func(c testgrpc.TestServiceClient, kv ...string) (string, error) {
		ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
		defer cancel()
		resp, err := c.UnaryCall(metadata.AppendToOutgoingContext(ctx, kv...), &testgrpc.SimpleRequest{})
		if err != nil {
			return "", err
		}
		return resp.GetHostname(), nil
	}

	for i := range 10 {
		if got, err := call(echo, "x-version", "v2"); err != nil || got != "v2" {
			t.Fatalf("header match, call %d: %q, %v; want v2", i, got, err)
		}
	}
	if _, err := call(echo, "x-fault", "abort"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("fault abort: %v, want RESOURCE_EXHAUSTED", err)
	}
	// The route's 100 ms timeout: Envoy's 504 "upstream request timeout", as gRPC sees it.
	if _, err := call(echo, "x-timeout", "yes"); status.Code(err) != codes.Unavailable ||
		!strings.Contains(status.Convert(err).Message(), "upstream request timeout") {
		t.Errorf("route timeout: %v, want UNAVAILABLE: upstream request timeout", err)
	}
	failed := 0
	for range 10 {
		if _, err := call(echo, "x-retry", "yes"); err != nil {
			t.Errorf("retried call failed: %v", err)
		}
		if _, err := call(echo, "x-retry", "no"); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Error("without retries no call failed: the flaky backend was not reached")
	}
	counts := map[string]int{}
	for range 200 {
		got, err := call(echo)
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		counts[got]++
	}
	if counts["v1"] < 120 || counts["v1"] > 180 || counts["v1"]+counts["v2"] != 200 {
		t.Errorf("split %v, want about 150/50", counts)
	}
	// A bidirectional stream goes through as it comes: each message is answered before the
	// next is sent, on the route with Istio's default retry policy.
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	stream, err := echo.FullDuplexCall(metadata.AppendToOutgoingContext(ctx, "x-version", "v2"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		msg := &testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte{byte('a' + i)}}}
		if err := stream.Send(msg); err != nil {
			t.Fatalf("stream send %d: %v", i, err)
		}
		resp, err := stream.Recv()
		if err != nil || string(resp.GetPayload().GetBody()) != string(msg.Payload.Body) {
			t.Fatalf("stream message %d: %v, %v", i, resp, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("stream end: %v, want EOF", err)
	}
	// A host the mesh does not declare: Envoy's 404 (no route), UNIMPLEMENTED to gRPC.
	if _, err := call(dial("unknown.example:7070")); status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown host: %v, want UNIMPLEMENTED", err)
	}
}

// gRPC through an ingress gateway, as an Istio user exposes a gRPC service: a GRPC server on a
// plain port (HTTP/2 without TLS) and an HTTPS server terminating TLS (h2 by ALPN), both
// routed to the GRPC service's endpoints over HTTP/2; unary calls, a bidirectional stream, and
// the gateway's Server on the answers.
func TestFeatureGRPCThroughGateway(t *testing.T) {
	p := newPKI(t, "grpc.example.com")
	v1 := startEcho(t, "v1", 0)
	host, port, _ := strings.Cut(v1.addr, ":")
	m := startMesh(t, map[string]string{"policies/grpc.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [grpc.example.com]
  ports:
  - {number: 7070, name: grpc, protocol: GRPC}
  resolution: STATIC
  endpoints:
  - {address: %s, ports: {grpc: %s}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 7070, name: grpc, protocol: GRPC}
    hosts: [grpc.example.com]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [grpc.example.com]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [grpc.example.com]
  gateways: [public]
  http:
  - route: [{destination: {host: grpc.example.com, port: {number: 7070}}}]
`, host, port, p.serverFile, p.serverKFile)})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	for _, tc := range []struct {
		name, listener, authority string
		creds                     credentials.TransportCredentials
	}{
		{"plain HTTP/2", "0.0.0.0_7070", "grpc.example.com:7070", insecure.NewCredentials()},
		{"TLS", "0.0.0.0_443", "grpc.example.com", credentials.NewTLS(&tls.Config{RootCAs: p.pool, ServerName: "grpc.example.com"})},
	} {
		addr := gw.ListenerAddr(tc.listener)
		if addr == "" {
			t.Fatalf("%s: the gateway has no listener %s", tc.name, tc.listener)
		}
		cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(tc.creds), grpc.WithAuthority(tc.authority))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		c := testgrpc.NewTestServiceClient(cc)
		ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
		var header metadata.MD
		resp, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.Header(&header))
		if err != nil || resp.GetHostname() != "v1" {
			t.Errorf("%s: unary call: %v, %v", tc.name, resp, err)
		} else if got := header.Get("server"); len(got) != 1 || got[0] != "istio-envoy" {
			t.Errorf("%s: server %q, want istio-envoy", tc.name, got)
		}
		stream, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range 2 {
			msg := &testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte{byte('a' + i)}}}
			if err := stream.Send(msg); err != nil {
				t.Fatalf("%s: stream send: %v", tc.name, err)
			}
			if got, err := stream.Recv(); err != nil || string(got.GetPayload().GetBody()) != string(msg.Payload.Body) {
				t.Fatalf("%s: stream message %d: %v, %v", tc.name, i, got, err)
			}
		}
		stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF {
			t.Errorf("%s: stream end: %v", tc.name, err)
		}
		cancel()
	}
}
