package proxy

import (
	"io"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestTCPProxyRoundTripAndHalfClose relays bytes both ways through a real listener, then
// half-closes: the backend still answers after the client's FIN, and then the client reads EOF.
func TestTCPProxyRoundTripAndHalfClose(t *testing.T) {
	a := tcpBackend(t, "a")
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp-9000", 9000, toTCPCluster("a"))}})
	c := dialTCP(t, p.ListenerAddr("tcp-9000"))
	if got := c.greeting(); got != "a" {
		t.Fatalf("greeting %q, want a", got)
	}
	for _, msg := range []string{"hello", "second line", string(make([]byte, 100000))} {
		if msg[0] == 0 {
			msg = string(bytesOf('x', 100000))
		}
		c.echo(t, msg)
	}
	if _, err := io.WriteString(c, "last\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); got != "last" {
		t.Fatalf("after FIN: %q, want the echo of last", got)
	}
	if got := c.line(); got != "bye a" {
		t.Fatalf("after FIN: %q, want the backend's answer to it", got)
	}
	if n, err := c.r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the backend closed: %d bytes, %v; want EOF", n, err)
	}
	rx := uint64(len("hello\nsecond line\n") + 100001 + len("last\n"))
	wantMetric(t, p, `signalbox_proxy_tcp_received_bytes_total{listener="tcp-9000",cluster="a"} `+itoa(rx))
	wantMetric(t, p, `signalbox_proxy_tcp_sent_bytes_total{listener="tcp-9000",cluster="a"} `+itoa(rx+uint64(len("a\nbye a\n"))))
	wantMetric(t, p, `signalbox_proxy_tcp_connections_total{listener="tcp-9000",cluster="a"} 1`)
	wantMetric(t, p, `signalbox_proxy_tcp_connections_active{listener="tcp-9000",cluster="a"} 0`)
}

// TestTCPProxyWeighted splits 400 connections 3:1. Each lands on "a" with probability 3/4: the
// count is binomial (mean 300, sd 8.7), so ±50 is a bound nearly six deviations wide.
func TestTCPProxyWeighted(t *testing.T) {
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}, "b": {b}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPWeighted("a", 75, "b", 25))}})
	addr := p.ListenerAddr("tcp")
	got := map[string]int{}
	for range 400 {
		c := dialTCP(t, addr)
		got[c.greeting()]++
		c.Close()
	}
	if got["a"]+got["b"] != 400 || got["a"] < 250 || got["a"] > 350 {
		t.Fatalf("split %v, want about 300/100", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_connections_total{listener="tcp",cluster="a"} `+itoa(uint64(got["a"])))
}

// TestTCPProxyIdleTimeout: a connection with no bytes either way for idle_timeout is closed,
// and one that keeps talking is not.
func TestTCPProxyIdleTimeout(t *testing.T) {
	a := tcpBackend(t, "a")
	tp := toTCPCluster("a")
	tp.IdleTimeout = durationpb.New(300 * time.Millisecond)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, tp)}})
	idle, busy := dialTCP(t, p.ListenerAddr("tcp")), dialTCP(t, p.ListenerAddr("tcp"))
	if idle.greeting() != "a" || busy.greeting() != "a" {
		t.Fatal("no greeting")
	}
	start := time.Now()
	for range 6 {
		time.Sleep(100 * time.Millisecond)
		busy.echo(t, "ping")
	}
	if n, err := idle.r.Read(make([]byte, 1)); err == nil {
		t.Fatalf("idle connection read %d bytes, want it closed", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}
	busy.echo(t, "still here")
	wantMetric(t, p, `signalbox_proxy_tcp_idle_timeouts_total{listener="tcp",cluster="a"} 1`)
}

// TestTCPProxyMaxConnections: with max_connections 1, a second connection while the first is
// open is closed without reaching the backend, and counted as the cluster's overflow.
func TestTCPProxyMaxConnections(t *testing.T) {
	a := tcpBackend(t, "a")
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("a"))},
		edit: map[string]func(*clusterv3.Cluster){"a": func(c *clusterv3.Cluster) {
			c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				MaxConnections: wrapperspb.UInt32(1)}}}
		}}})
	addr := p.ListenerAddr("tcp")
	first := dialTCP(t, addr)
	if first.greeting() != "a" {
		t.Fatal("first connection refused")
	}
	second := dialTCP(t, addr)
	if got := second.greeting(); got != "" {
		t.Fatalf("second connection reached %q, want it closed", got)
	}
	wantMetric(t, p, `signalbox_proxy_upstream_cx_overflow_total{cluster="a"} 1`)
	first.echo(t, "still open")
	first.Close()
	// The slot comes back when the first connection ends.
	deadline := time.Now().Add(testTimeout)
	for {
		c := dialTCP(t, addr)
		if c.greeting() == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection slot never came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTCPProxyConnectAttempts: with one endpoint down, round robin sends every other
// connection to it. With max_connect_attempts 1 that connection is closed; after an update to
// 2 (the same listener, swapped in place), every connection reaches the live endpoint.
func TestTCPProxyConnectAttempts(t *testing.T) {
	a, dead := tcpBackend(t, "a"), deadAddr(t)
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {dead, a}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("a"))}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("tcp")
	got := map[string]int{}
	for range 4 {
		got[dialTCP(t, addr).greeting()]++
	}
	if got["a"] != 2 || got[""] != 2 {
		t.Fatalf("with one attempt: %v, want 2 reached and 2 closed", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_connect_failures_total{listener="tcp",cluster="a"} 2`)

	tp := toTCPCluster("a")
	tp.MaxConnectAttempts = wrapperspb.UInt32(2)
	g.lv, g.listeners = "l2", []*listenerv3.Listener{tcpProxyListener("tcp", 9000, tp)}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if p.ListenerAddr("tcp") != addr {
		t.Fatal("the update rebound the listener")
	}
	for i := range 4 {
		if got := dialTCP(t, addr).greeting(); got != "a" {
			t.Fatalf("connection %d with two attempts: %q, want a", i, got)
		}
	}
}

// TestTCPProxyUpdateAndRemove: an update that points the listener at another cluster sends new
// connections there while an open one keeps its backend; removing the listener stops
// accepting, and the open connection keeps working until the drain period closes it.
func TestTCPProxyUpdateAndRemove(t *testing.T) {
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}, "b": {b}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("a"))}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("tcp")
	old := dialTCP(t, addr)
	if old.greeting() != "a" {
		t.Fatal("not a")
	}
	g.lv, g.listeners = "l2", []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("b"))}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := dialTCP(t, addr).greeting(); got != "b" {
		t.Fatalf("new connection after the update reached %q, want b", got)
	}
	old.echo(t, "old connection still relayed")

	g.lv, g.listeners = "l3", nil
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l3"})
	old.echo(t, "still relayed while draining")
	start := time.Now()
	old.SetDeadline(time.Now().Add(drainTimeout + 5*time.Second))
	if n, err := old.r.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes after the drain, want the connection closed", n)
	}
	if d := time.Since(start); d < drainTimeout/2 {
		t.Fatalf("closed after %v, before the drain period", d)
	}
	if c, err := dialTCPErr(addr); err == nil {
		if got := (&tcpConn{r: bufioReader(c)}).greeting(); got != "" {
			t.Fatalf("the removed listener still relays (to %q)", got)
		}
	}
}

// TestTCPProxyHTTPSwitchNACK: turning a bound HTTP listener into a TCP proxy at the same
// address is refused, as turning TLS on or off is, and the HTTP listener keeps serving.
func TestTCPProxyHTTPSwitchNACK(t *testing.T) {
	a := tcpBackend(t, "a")
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}},
		listeners: []*listenerv3.Listener{httpListener("gw", "0.0.0.0", 9000, "r")}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("gw")
	g.lv, g.listeners = "l2", []*listenerv3.Listener{tcpProxyListener("gw", 9000, toTCPCluster("a"))}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	deadline := time.Now().Add(testTimeout)
	for {
		if n := p.configDump().LastNACK; n != nil {
			if want := "filter_chains[0].filters[0]: changing between"; !contains(n.Error, want) {
				t.Fatalf("NACK %q, want it to name %q", n.Error, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no NACK")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.Versions()[lds] != "l1" || p.ListenerAddr("gw") != addr {
		t.Fatal("the refused update changed the listener")
	}
}

// TestTCPProxyUnknownClusterAndOutlier: a cluster CDS does not have is accepted (as Envoy
// does) and its connections are closed and counted; a failed connect is reported to outlier
// detection, which ejects the dead endpoint so later connections all reach the live one.
func TestTCPProxyUnknownClusterAndOutlier(t *testing.T) {
	a, dead := tcpBackend(t, "a"), deadAddr(t)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {dead, a}},
		listeners: []*listenerv3.Listener{
			tcpProxyListener("tcp", 9000, toTCPCluster("a")),
			tcpProxyListener("nowhere", 9001, toTCPCluster("missing")),
		},
		edit: map[string]func(*clusterv3.Cluster){"a": func(c *clusterv3.Cluster) {
			c.OutlierDetection = &clusterv3.OutlierDetection{
				ConsecutiveGatewayFailure:          wrapperspb.UInt32(1),
				EnforcingConsecutiveGatewayFailure: wrapperspb.UInt32(100),
				MaxEjectionPercent:                 wrapperspb.UInt32(50),
			}
		}}})
	if got := dialTCP(t, p.ListenerAddr("nowhere")).greeting(); got != "" {
		t.Fatalf("unknown cluster: reached %q, want the connection closed", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_no_cluster_total{listener="nowhere",cluster="missing"} 1`)

	addr := p.ListenerAddr("tcp")
	failed := 0
	for range 6 {
		if dialTCP(t, addr).greeting() == "" {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d of 6 connections failed, want 1: the dead endpoint ejected after its first failure", failed)
	}
	wantMetric(t, p, `signalbox_proxy_outlier_ejections_total{cluster="a"} 1`)
}

// TestTCPProxyUpdateWaitsForEndpoints: an update that points the listener at a cluster whose
// endpoints have not arrived keeps the previous cluster taking connections until they do, as
// route configurations wait for theirs.
func TestTCPProxyUpdateWaitsForEndpoints(t *testing.T) {
	a, c := tcpBackend(t, "a"), tcpBackend(t, "c")
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}},
		listeners: []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("a"))}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("tcp")

	g.lv, g.clusters = "l2", map[string][]string{"a": {a}, "c": {c}}
	g.listeners = []*listenerv3.Listener{tcpProxyListener("tcp", 9000, toTCPCluster("c"))}
	g.noEDS, g.cv = map[string]bool{"c": true}, "c2"
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l2", cds: "c2"})
	if got := dialTCP(t, addr).greeting(); got != "a" {
		t.Fatalf("before c's endpoints: reached %q, want a", got)
	}

	g.ev, g.noEDS = "e2", nil
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{eds: "e2"})
	if got := dialTCP(t, addr).greeting(); got != "c" {
		t.Fatalf("after c's endpoints: reached %q, want c", got)
	}
}
