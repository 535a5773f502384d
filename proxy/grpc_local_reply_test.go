package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestGRPCLocalReplies: what the proxy answers itself reaches a gRPC client as a gRPC status
// (200, grpc-status from the HTTP status as the gRPC specification maps it, grpc-message the
// reply's text), as Envoy's sendLocalReply answers gRPC requests; other clients keep the HTTP
// status.
func TestGRPCLocalReplies(t *testing.T) {
	b := echoBackend(t, "b")
	abort := prefixRoute("/abort", "b")
	abort.TypedPerFilterConfig = map[string]*anypb.Any{faultFilterName: faultConfig(0, 0, 503, percent(100))}
	routes := routeConfiguration("r", vhost("svc", []string{"svc"}, abort, prefixRoute("/empty", "empty"), prefixRoute("/", "b")))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", filters: []*hcmv3.HttpFilter{faultFilter()},
		clusters: map[string][]*httptest.Server{"b": {b}, "empty": nil}})
	c := newClient()
	for _, tc := range []struct {
		name, host, path    string
		code                int    // for a plain client
		grpcStatus, grpcMsg string // for a gRPC client
	}{
		{"no route", "unknown", "/", http.StatusNotFound, "12", ""},
		{"no healthy upstream", "svc", "/empty", http.StatusServiceUnavailable, "14", "no healthy upstream"},
		{"fault abort", "svc", "/abort", http.StatusServiceUnavailable, "14", "fault filter abort"},
	} {
		plain := do(t, c, http.MethodPost, addr, tc.host, tc.path, "Content-Type", "application/json")
		if plain.StatusCode != tc.code || plain.Header.Get("Grpc-Status") != "" {
			t.Errorf("%s, plain client: %d grpc-status %q, want %d", tc.name, plain.StatusCode, plain.Header.Get("Grpc-Status"), tc.code)
		}
		g := do(t, c, http.MethodPost, addr, tc.host, tc.path, "Content-Type", "application/grpc+proto", "Te", "trailers")
		if g.StatusCode != http.StatusOK || g.Header.Get("Content-Type") != "application/grpc" ||
			g.Header.Get("Grpc-Status") != tc.grpcStatus || g.Header.Get("Grpc-Message") != tc.grpcMsg {
			t.Errorf("%s, gRPC client: %d %q grpc-status %q grpc-message %q, want 200 application/grpc %s %q", tc.name, g.StatusCode,
				g.Header.Get("Content-Type"), g.Header.Get("Grpc-Status"), g.Header.Get("Grpc-Message"), tc.grpcStatus, tc.grpcMsg)
		}
	}
	if got := grpcPercentEncode("50% off\nnow é"); got != "50%25 off%0Anow %C3%A9" {
		t.Errorf("grpc-message encoding: %q", got)
	}
}
