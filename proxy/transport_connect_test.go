package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalbox/signalbox/internal/testnet"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// hangingListener is testnet.HangingAddr as an endpoint's address and port.
func hangingListener(t *testing.T) (string, uint32) {
	host, port, _ := net.SplitHostPort(testnet.HangingAddr(t))
	n, _ := strconv.Atoi(port)
	return host, uint32(n)
}

// A dial that runs out of connect_timeout is a connection failure, not a timeout, so the lean
// path does not take it for the route's timeout; one ended by its context stays a timeout.
func TestDialConnectTimeoutIsConnectFailure(t *testing.T) {
	ip, port := hangingListener(t)
	addr := fmt.Sprintf("%s:%d", ip, port)
	var timeouts atomic.Pointer[map[string]time.Duration]
	timeouts.Store(&map[string]time.Duration{addr: 100 * time.Millisecond})
	d := &dialer{timeouts: &timeouts}

	start := time.Now()
	_, err := d.dial(context.Background(), "tcp", addr)
	var op *net.OpError
	if !errors.Is(err, errConnectTimeout) || isTimeout(err) || !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("dial past connect_timeout: %v (timeout %v), want a dial error for the connection timeout", err, isTimeout(err))
	}
	if el := time.Since(start); el < 80*time.Millisecond || el > 3*time.Second {
		t.Errorf("dial with a 100ms connect_timeout failed after %v", el)
	}

	timeouts.Store(&map[string]time.Duration{addr: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.dial(ctx, "tcp", addr); errors.Is(err, errConnectTimeout) || !isTimeout(err) {
		t.Fatalf("dial ended by its context's deadline: %v, want the timeout kept", err)
	}
}

// Through the proxy, as Envoy answers a connect timeout: 503 after about connect_timeout on
// both the shared pool and a cluster's own (here for TCP keep-alive), and a connect-failure
// retry moves the request to another endpoint.
func TestConnectTimeoutAnswers(t *testing.T) {
	ip, port := hangingListener(t)
	live := echoBackend(t, "live")
	timeout := func(c *clusterv3.Cluster) { c.ConnectTimeout = durationpb.New(150 * time.Millisecond) }
	snap := sidecar{version: "r1",
		clusters: map[string][]*httptest.Server{"stuck": nil, "own": nil, "mixed": {live}},
		edit: map[string]func(*clusterv3.Cluster){
			"stuck": timeout,
			"mixed": timeout,
			"own": func(c *clusterv3.Cluster) {
				timeout(c)
				c.UpstreamConnectionOptions = &clusterv3.UpstreamConnectionOptions{TcpKeepalive: &core.TcpKeepalive{KeepaliveTime: wrapperspb.UInt32(7)}}
			},
		},
		routes: routeConfiguration("r", vhost("v", []string{"*"},
			prefixRoute("/stuck", "stuck"), prefixRoute("/own", "own"),
			withRetry(prefixRoute("/mixed", "mixed"), istioRetry("connect-failure", 1, 0)))),
	}.snapshot(t)
	for _, r := range snap.resources[eds] {
		cla := r.(*endpointv3.ClusterLoadAssignment)
		if len(cla.Endpoints) == 0 {
			cla.Endpoints = append(cla.Endpoints, &endpointv3.LocalityLbEndpoints{Locality: &core.Locality{Zone: "z1"}, LoadBalancingWeight: wrapperspb.UInt32(1)})
		}
		cla.Endpoints[0].LbEndpoints = append(cla.Endpoints[0].LbEndpoints, lbEndpoint(ip, port))
	}
	addr := serve(t, snap)
	c := newClient()
	for _, path := range []string{"/stuck", "/own"} {
		start := time.Now()
		resp := do(t, c, http.MethodGet, addr, "svc", path)
		resp.Body.Close()
		el := time.Since(start)
		if resp.StatusCode != http.StatusServiceUnavailable || el < 100*time.Millisecond || el > 3*time.Second {
			t.Errorf("%s: %d after %v, want 503 after about the 150ms connect_timeout", path, resp.StatusCode, el)
		}
	}
	// Round robin over two endpoints: half the requests try the hanging one first.
	for i := range 4 {
		if code, from := get(t, c, addr, "svc", "/mixed"); code != http.StatusOK || from != "live" {
			t.Errorf("/mixed request %d: %d from %q, want the connect timeout retried on the live endpoint", i, code, from)
		}
	}
}

// The route's timeout bounds the whole attempt, connecting included, as Envoy's does: with a
// connect_timeout longer than the route's, a connect that hangs is answered 504 when the
// route's time is up, not 503 when the connect gives up.
func TestRouteTimeoutBoundsConnect(t *testing.T) {
	ip, port := hangingListener(t)
	route := prefixRoute("/", "stuck")
	route.GetRoute().Timeout = durationpb.New(200 * time.Millisecond)
	snap := sidecar{version: "r1",
		clusters: map[string][]*httptest.Server{"stuck": nil},
		edit:     map[string]func(*clusterv3.Cluster){"stuck": func(c *clusterv3.Cluster) { c.ConnectTimeout = durationpb.New(5 * time.Second) }},
		routes:   routeConfiguration("r", vhost("v", []string{"*"}, route)),
	}.snapshot(t)
	for _, r := range snap.resources[eds] {
		cla := r.(*endpointv3.ClusterLoadAssignment)
		cla.Endpoints = []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(ip, port)}}}
	}
	addr := serve(t, snap)
	start := time.Now()
	resp := do(t, newClient(), http.MethodGet, addr, "svc", "/")
	resp.Body.Close()
	if el := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || el < 150*time.Millisecond || el > 2*time.Second {
		t.Errorf("%d after %v, want 504 after about the route's 200ms", resp.StatusCode, el)
	}
}
