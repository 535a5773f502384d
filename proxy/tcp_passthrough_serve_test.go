package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TLS passthrough through real listeners: crypto/tls clients reach real TLS backends, each
// with its own certificate, which the proxy never has: the certificate that answers says
// which backend the SNI chose.

// passthroughBackend is a TLS server whose certificate names only dnsName. After the
// handshake it writes "<dnsName> <the SNI it saw>\n", then echoes. accepted, when set,
// counts the connections it accepts.
func passthroughBackend(t *testing.T, dnsName string, accepted *atomic.Int64) string {
	t.Helper()
	pki := newPKI(t, dnsName)
	var ln net.Listener = listenLoopback(t)
	if accepted != nil {
		ln = &countingListener{Listener: ln, n: accepted}
	}
	return serveConns(t, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pki.server}}), func(c net.Conn) {
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		io.WriteString(c, dnsName+" "+tc.ConnectionState().ServerName+"\n")
		io.Copy(c, c)
	})
}

// viaSNI opens a TLS connection through the proxy with sni ("": none), checks that the
// backend that greets is the one whose certificate answered and that bytes echo, and returns
// the backend's name, "" when the proxy closed the connection. wrap, when set, wraps the
// client's socket.
func viaSNI(t *testing.T, addr, sni string, wrap func(net.Conn) net.Conn) string {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(testTimeout))
	c := raw
	if wrap != nil {
		c = wrap(raw)
	}
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	defer tc.Close()
	if tc.Handshake() != nil {
		return ""
	}
	r := bufio.NewReader(tc)
	line, _ := r.ReadString('\n')
	backend, _, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if backend == "" {
		return ""
	}
	if cert := tc.ConnectionState().PeerCertificates[0].DNSNames[0]; cert != backend {
		t.Fatalf("SNI %q: certificate of %q, greeting of %q", sni, cert, backend)
	}
	io.WriteString(tc, "ping\n")
	if got, _ := r.ReadString('\n'); got != "ping\n" {
		t.Fatalf("SNI %q: echo %q", sni, got)
	}
	return backend
}

// oneByteWrites writes the first thing it is given, the ClientHello, as one-byte TLS records
// one byte per write, then passes writes through.
type oneByteWrites struct {
	net.Conn
	done bool
}

func (c *oneByteWrites) Write(b []byte) (int, error) {
	if c.done {
		return c.Conn.Write(b)
	}
	c.done = true
	for _, x := range oneByteRecords(b) {
		if _, err := c.Conn.Write([]byte{x}); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// TestPassthroughSNIRouting: the exact name beats wildcards, the most specific wildcard beats
// the others, the SNI matches whatever its case, and a name no chain has, or no SNI, goes
// to the catch-all. /config shows the chains.
func TestPassthroughSNIRouting(t *testing.T) {
	clusters := map[string][]string{}
	for _, name := range []string{"a.example.com", "wild-b", "wild-example", "wild-com", "default"} {
		clusters[name] = []string{passthroughBackend(t, name, nil)}
	}
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: clusters, listeners: []*listenerv3.Listener{passthroughListener("pt", 443,
		sniChain(toTCPCluster("a.example.com"), names("a.example.com")),
		sniChain(toTCPCluster("wild-example"), names("*.example.com")),
		sniChain(toTCPCluster("wild-b"), names("*.b.example.com")),
		sniChain(toTCPCluster("wild-com"), names("*.com")),
		sniChain(toTCPCluster("default"), nil),
	)}})
	addr := p.ListenerAddr("pt")
	for sni, want := range map[string]string{
		"a.example.com":     "a.example.com",
		"A.Example.COM":     "a.example.com",
		"x.b.example.com":   "wild-b",
		"y.x.b.example.com": "wild-b",
		"b.example.com":     "wild-example",
		"other.com":         "wild-com",
		"example.org":       "default",
		"":                  "default",
	} {
		if got := viaSNI(t, addr, sni, nil); got != want {
			t.Errorf("SNI %q reached %q, want %q", sni, got, want)
		}
	}
	wantMetric(t, p, `signalbox_proxy_tcp_connections_total{listener="pt",cluster="a.example.com"} 2`)
	var dump *ListenerDump
	for _, l := range p.configDump().Listeners {
		if l.Name == "pt" {
			dump = &l
		}
	}
	if dump == nil || len(dump.FilterChains) != 5 || !slices.Equal(dump.FilterChains[2].ServerNames, []string{"*.b.example.com"}) ||
		!slices.Equal(dump.FilterChains[2].Clusters, []string{"wild-b"}) || dump.FilterChains[4].ServerNames != nil {
		t.Fatalf("/config listener: %+v", dump)
	}
}

// TestPassthroughNoMatchAndPlainText: without a catch-all, a connection whose SNI no chain
// names, one without SNI and one that is not TLS are closed at once and counted; with one,
// bytes that are not TLS reach it unchanged.
func TestPassthroughNoMatchAndPlainText(t *testing.T) {
	var accepted atomic.Int64
	a := passthroughBackend(t, "a.example.com", &accepted)
	plain := tcpBackend(t, "plain")
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}, "plain": {plain}}, listeners: []*listenerv3.Listener{
		passthroughListener("strict", 9444, sniChain(toTCPCluster("a"), names("a.example.com"))),
		passthroughListener("mixed", 9445, sniChain(toTCPCluster("a"), names("a.example.com")), sniChain(toTCPCluster("plain"), nil)),
	}})
	strict := p.ListenerAddr("strict")
	for _, sni := range []string{"z.example.com", ""} {
		if got := viaSNI(t, strict, sni, nil); got != "" {
			t.Errorf("SNI %q reached %q, want the connection closed", sni, got)
		}
	}
	c := dialTCP(t, strict)
	io.WriteString(c, "hello proxy\n")
	wantClosed(t, c, "plain text without a catch-all")
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the backend accepted %d connections no chain matched", n)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_no_filter_chain_match_total{listener="strict"} 3`)

	c = dialTCP(t, p.ListenerAddr("mixed"))
	io.WriteString(c, "hello proxy\n")
	if got := c.greeting(); got != "plain" {
		t.Fatalf("plain text with a catch-all: greeting %q", got)
	}
	if got := c.line(); got != "hello proxy" {
		t.Fatalf("the bytes read while inspecting came back as %q", got)
	}
	if got := viaSNI(t, p.ListenerAddr("mixed"), "a.example.com", nil); got != "a.example.com" {
		t.Fatalf("mixed: a.example.com reached %q", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_no_filter_chain_match_total{listener="mixed"} 0`)
}

// TestPassthroughByteByByte: a ClientHello sent as one-byte TLS records, one byte per write,
// is reassembled, routed by its SNI, and reaches the backend intact (its handshake succeeds).
func TestPassthroughByteByByte(t *testing.T) {
	a, b := passthroughBackend(t, "a.example.com", nil), passthroughBackend(t, "b.example.com", nil)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}, "b": {b}}, listeners: []*listenerv3.Listener{
		passthroughListener("pt", 443, sniChain(toTCPCluster("a"), names("a.example.com")), sniChain(toTCPCluster("b"), names("b.example.com")))}})
	wrap := func(c net.Conn) net.Conn { return &oneByteWrites{Conn: c} }
	for _, name := range []string{"b.example.com", "a.example.com"} {
		if got := viaSNI(t, p.ListenerAddr("pt"), name, wrap); got != name {
			t.Fatalf("byte by byte to %s: reached %q", name, got)
		}
	}
}

// TestPassthroughListenerFiltersTimeout: a connection that sends no whole ClientHello within
// listener_filters_timeout is closed, or, with continue_on_listener_filters_timeout, sent to
// the catch-all with what it did send.
func TestPassthroughListenerFiltersTimeout(t *testing.T) {
	plain := tcpBackend(t, "plain")
	timed := func(name string, port uint32, cont bool) *listenerv3.Listener {
		l := passthroughListener(name, port, sniChain(toTCPCluster("plain"), nil))
		l.ListenerFiltersTimeout = durationpb.New(200 * time.Millisecond)
		l.ContinueOnListenerFiltersTimeout = cont
		return l
	}
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"plain": {plain}},
		listeners: []*listenerv3.Listener{timed("close", 9446, false), timed("continue", 9447, true)}})
	for _, first := range []string{"", "\x16\x03\x01"} {
		c := dialTCP(t, p.ListenerAddr("close"))
		io.WriteString(c, first)
		start := time.Now()
		wantClosed(t, c, "silent past the timeout")
		if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
			t.Fatalf("closed after %v, want about 200ms", d)
		}
	}
	wantMetric(t, p, `signalbox_proxy_tcp_listener_filter_timeouts_total{listener="close"} 2`)

	c := dialTCP(t, p.ListenerAddr("continue"))
	io.WriteString(c, "\x16\x03\x01")
	if got := c.greeting(); got != "plain" {
		t.Fatalf("continue: greeting %q, want the catch-all", got)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(c.r, got); err != nil || string(got) != "\x16\x03\x01" {
		t.Fatalf("continue: the bytes read before the timeout came back as %q, %v", got, err)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_listener_filter_timeouts_total{listener="continue"} 1`)
}

// TestPassthroughWeightedAndRBAC: one chain splits its connections by weight; each chain has
// its own network RBAC, judged after the chain is chosen and before any backend is dialled;
// requested_server_name sees the SNI the inspector read, and authenticated matches nothing
// (there is no TLS peer on a passthrough connection).
func TestPassthroughWeightedAndRBAC(t *testing.T) {
	var guarded atomic.Int64
	w1, w2 := passthroughBackend(t, "w1", nil), passthroughBackend(t, "w2", nil)
	g := passthroughBackend(t, "guarded", &guarded)
	sni := func(name string) *rbacv3.Permission {
		return &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: &matcherv3.StringMatcher{
			MatchPattern: &matcherv3.StringMatcher_Exact{Exact: name}}}}
	}
	authenticated := &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{}}}
	rbac := func(action rbacv3.RBAC_Action, p *rbacv3.Policy) *listenerv3.Filter {
		return netRBACFilter(netRBACRules(action, map[string]*rbacv3.Policy{"p": p}))
	}
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"w1": {w1}, "w2": {w2}, "guarded": {g}},
		listeners: []*listenerv3.Listener{passthroughListener("pt", 443,
			sniChain(toTCPWeighted("w1", 1, "w2", 1), names("w.example.com")),
			sniChain(toTCPCluster("guarded"), names("deny.example.com"), rbac(rbacv3.RBAC_DENY, policy(perms(anyPerm), ids(anyID)))),
			sniChain(toTCPCluster("guarded"), names("mtls.example.com"), rbac(rbacv3.RBAC_ALLOW, policy(perms(anyPerm), ids(authenticated)))),
			sniChain(toTCPCluster("guarded"), nil, rbac(rbacv3.RBAC_ALLOW, policy(perms(sni("ok.example.com")), ids(anyID)))),
		)}})
	addr := p.ListenerAddr("pt")
	got := map[string]int{}
	for range 30 {
		got[viaSNI(t, addr, "w.example.com", nil)]++
	}
	// Binomial(30, 1/2): fewer than 5 either way has a chance below 1 in 5000.
	if got["w1"]+got["w2"] != 30 || got["w1"] < 5 || got["w2"] < 5 {
		t.Fatalf("weighted split %v, want about 15/15", got)
	}
	for _, name := range []string{"deny.example.com", "mtls.example.com", "nope.example.com", ""} {
		if got := viaSNI(t, addr, name, nil); got != "" {
			t.Fatalf("SNI %q reached %q, want it denied", name, got)
		}
	}
	if n := guarded.Load(); n != 0 {
		t.Fatalf("the guarded backend accepted %d denied connections", n)
	}
	if got := viaSNI(t, addr, "ok.example.com", nil); got != "guarded" {
		t.Fatalf("requested_server_name ok.example.com: reached %q", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="pt"} 4`)
}

// TestPassthroughUpdate: an update that points a chain at another cluster keeps the socket;
// new connections go to the new cluster while an open one keeps its backend.
func TestPassthroughUpdate(t *testing.T) {
	a, b := passthroughBackend(t, "a", nil), passthroughBackend(t, "b", nil)
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}, "b": {b}}, listeners: []*listenerv3.Listener{
		passthroughListener("pt", 443, sniChain(toTCPCluster("a"), names("x.example.com")))}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("pt")
	raw, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(testTimeout))
	old := tls.Client(raw, &tls.Config{ServerName: "x.example.com", InsecureSkipVerify: true})
	r := bufio.NewReader(old)
	if line, _ := r.ReadString('\n'); line != "a x.example.com\n" {
		t.Fatalf("before the update: %q", line)
	}

	g.lv, g.listeners = "l2", []*listenerv3.Listener{passthroughListener("pt", 443, sniChain(toTCPCluster("b"), names("x.example.com")))}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("pt"); got != addr {
		t.Fatalf("the update rebound the listener: %s, was %s", got, addr)
	}
	if got := viaSNI(t, addr, "x.example.com", nil); got != "b" {
		t.Fatalf("after the update: reached %q, want b", got)
	}
	io.WriteString(old, "still a\n")
	if line, _ := r.ReadString('\n'); line != "still a\n" {
		t.Fatalf("the open connection: %q", line)
	}
}

// TestPassthroughClientHelloTooLarge: a handshake that is still incomplete after 64 KiB is
// closed, as Envoy's client_hello_too_large is, and never reaches a backend.
func TestPassthroughClientHelloTooLarge(t *testing.T) {
	var accepted atomic.Int64
	a := countingTCPBackend(t, "a", &accepted)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}}, listeners: []*listenerv3.Listener{
		passthroughListener("pt", 443, sniChain(toTCPCluster("a"), nil))}})
	// A ClientHello of 16383 bytes announced, then sent in one-byte records: 6 bytes a byte.
	hello := oneByteRecords([]byte{22, 3, 1, 0, 4, 1, 0, 0x3f, 0xff})
	for len(hello) < maxClientHelloBytes+1024 {
		hello = append(hello, 22, 3, 1, 0, 1, 0)
	}
	c := dialTCP(t, p.ListenerAddr("pt"))
	go c.Write(hello) // fails once the proxy closes
	wantClosed(t, c, "a ClientHello over 64 KiB")
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the backend accepted %d connections", n)
	}
}
