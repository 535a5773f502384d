package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// countingTCPBackend is tcpBackend that counts the connections it accepts, so a test can tell
// that a denied connection never reached it.
func countingTCPBackend(t *testing.T, name string, accepted *atomic.Int64) string {
	t.Helper()
	return serveConns(t, &countingListener{Listener: listenLoopback(t), n: accepted}, func(c net.Conn) {
		io.WriteString(c, name+"\n")
		io.Copy(c, c)
	})
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func allowFrom(port uint32, prefix string, bits uint32) map[string]*rbacv3.Policy {
	return map[string]*rbacv3.Policy{"ns.allow": policy(perms(portPerm(port)), ids(remoteID(prefix, bits)))}
}

func denyPort(port uint32) map[string]*rbacv3.Policy {
	return map[string]*rbacv3.Policy{"ns.deny": policy(perms(portPerm(port)), ids(anyID))}
}

// wantClosed says the proxy closed c without relaying it: EOF (or a reset) before any byte.
func wantClosed(t *testing.T, c *tcpConn, what string) {
	t.Helper()
	if got := c.greeting(); got != "" {
		t.Fatalf("%s: reached backend %q, want the connection closed", what, got)
	}
}

// TestTCPRBACServes: through real TCP proxy listeners (bound on 127.0.0.1:0, configured on
// ports 9100-9102) to a real echo backend, an ALLOW on the peer's 127.0.0.0/8 and the
// configured port relays, an ALLOW on another range and a DENY on the port close the
// connection before the backend is dialled, and the counters say so.
func TestTCPRBACServes(t *testing.T) {
	var accepted atomic.Int64
	a := countingTCPBackend(t, "a", &accepted)
	allow := netRBACRules(rbacv3.RBAC_ALLOW, allowFrom(9100, "127.0.0.0", 8))
	// Shadow rules that deny everything: counted, never enforced.
	allow.ShadowRules = &rbacv3.RBAC{Action: rbacv3.RBAC_DENY, Policies: map[string]*rbacv3.Policy{"all": policy(perms(anyPerm), ids(anyID))}}
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}}, listeners: []*listenerv3.Listener{
		tcpRBACListener("allow", 9100, allow),
		tcpRBACListener("other", 9101, netRBACRules(rbacv3.RBAC_ALLOW, allowFrom(9101, "10.0.0.0", 8))),
		// The compiler's DENY-then-ALLOW order: the DENY decides first.
		tcpRBACListener("deny", 9102, netRBACRules(rbacv3.RBAC_DENY, denyPort(9102)),
			netRBACRules(rbacv3.RBAC_ALLOW, allowFrom(9102, "127.0.0.0", 8))),
	}})

	const denied = 3
	for range denied {
		wantClosed(t, dialTCP(t, p.ListenerAddr("other")), "ALLOW on 10.0.0.0/8")
		wantClosed(t, dialTCP(t, p.ListenerAddr("deny")), "DENY on the port")
	}
	// The proxy closed them before choosing an upstream, so nothing was ever dialled.
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the backend accepted %d connections the RBAC denied", n)
	}

	c := dialTCP(t, p.ListenerAddr("allow"))
	if got := c.greeting(); got != "a" {
		t.Fatalf("allowed connection: greeting %q, want a", got)
	}
	c.echo(t, "through the RBAC")
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the backend accepted %d connections, want 1", n)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="other"} `+itoa(denied))
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="deny"} `+itoa(denied))
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_shadow_denied_total{listener="allow"} 1`)
	wantMetric(t, p, `signalbox_proxy_tcp_connections_total{listener="allow",cluster="a"} 1`)
	// Denied connections never got as far as the TCP proxy's counters.
	wantMetric(t, p, `signalbox_proxy_tcp_connections_total{listener="deny",cluster="a"} 0`)
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="allow"} 0`)
}

// TestTCPRBACUpdate: a listener update replacing the ALLOW with a DENY applies to new
// connections; the one already relayed keeps working, as a TcpProxy update leaves it.
func TestTCPRBACUpdate(t *testing.T) {
	var accepted atomic.Int64
	a := countingTCPBackend(t, "a", &accepted)
	g := tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}}, listeners: []*listenerv3.Listener{
		tcpRBACListener("tcp", 9200, netRBACRules(rbacv3.RBAC_ALLOW, allowFrom(9200, "127.0.0.0", 8)))}}
	xds, p := setupTCP(t, g)
	addr := p.ListenerAddr("tcp")
	old := dialTCP(t, addr)
	if got := old.greeting(); got != "a" {
		t.Fatalf("greeting %q, want a", got)
	}

	g.lv, g.listeners = "l2", []*listenerv3.Listener{tcpRBACListener("tcp", 9200, netRBACRules(rbacv3.RBAC_DENY, denyPort(9200)))}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("tcp"); got != addr {
		t.Fatalf("the update rebound the listener: %s, was %s", got, addr)
	}
	wantClosed(t, dialTCP(t, addr), "new connection after the DENY")
	old.echo(t, "the open connection is not judged again")
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the backend accepted %d connections, want only the first", n)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="tcp"} 1`)

	// Removing the RBAC lets new connections through again.
	g.lv, g.listeners = "l3", []*listenerv3.Listener{tcpRBACListener("tcp", 9200)}
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	waitVersions(t, p, map[string]string{lds: "l3"})
	if got := dialTCP(t, addr).greeting(); got != "a" {
		t.Fatalf("after the RBAC was removed: greeting %q, want a", got)
	}
	old.echo(t, "still relayed")
}

// TestTCPRBACServesTLS: on a listener that terminates TLS, requested_server_name matches the
// SNI the handshake carried, so the decision waits for the handshake and still precedes any
// upstream connection.
func TestTCPRBACServesTLS(t *testing.T) {
	pki := newPKI(t, "backend.example")
	var accepted atomic.Int64
	a := countingTCPBackend(t, "a", &accepted)
	sni := &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: &matcherv3.StringMatcher{
		MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "backend.example"}}}}
	l := tcpRBACListener("tls-in", 9443, netRBACRules(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"sni": policy(perms(sni), ids(anyID))}))
	terminateTLS(t, l, pki)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}}, listeners: []*listenerv3.Listener{l}})
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	greeting := func(cfg *tls.Config) string {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", p.ListenerAddr("tls-in"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		s, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSuffix(s, "\n")
	}
	// Another name: the handshake completes (one certificate), then the RBAC closes it.
	if got := greeting(&tls.Config{RootCAs: pool, ServerName: "other.example", InsecureSkipVerify: true}); got != "" {
		t.Fatalf("SNI other.example reached %q, want the connection closed", got)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the backend accepted %d denied connections", n)
	}
	if got := greeting(&tls.Config{RootCAs: pool, ServerName: "backend.example"}); got != "a" {
		t.Fatalf("SNI backend.example: greeting %q, want a", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="tls-in"} 1`)
}
