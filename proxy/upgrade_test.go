package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Tests of WebSocket upgrades through the proxy (upgrade.go): real backends that switch
// protocols by hijacking their connection, and clients that write the handshake by hand.

// webSocketListener is an HTTP listener whose connection manager enables WebSocket, as Istio
// emits every sidecar and gateway one; filters go before the router.
func webSocketListener(name string, port uint32, filters ...*hcmv3.HttpFilter) *listenerv3.Listener {
	l := httpListener(name, "127.0.0.1", port, "r", append(filters, routerFilter())...)
	return hcmOf(l, func(m *hcmv3.HttpConnectionManager) {
		m.UpgradeConfigs = []*hcmv3.HttpConnectionManager_UpgradeConfig{{UpgradeType: "websocket"}}
		m.UseRemoteAddress = wrapperspb.Bool(true) // as on a gateway, which appends X-Forwarded-For
	})
}

// wsBackend answers an upgrade request with 101 and "hello|" right behind the head, echoes
// every byte until the client half-closes, then sends "|bye" and closes. /refuse answers
// 403, /slow and /slower wait before switching, and requests without Upgrade get "plain".
type wsBackend struct {
	srv *httptest.Server

	mu       sync.Mutex
	hits     int
	upgrades []http.Header
	remotes  map[string]string // request kind -> the proxy's address of its last one
}

func newWSBackend(t testing.TB, tlsServer bool) *wsBackend {
	t.Helper()
	b := &wsBackend{remotes: map[string]string{}}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	if tlsServer {
		b.srv.StartTLS() // HTTP/1.1 only: EnableHTTP2 is off
	} else {
		b.srv.Start()
	}
	t.Cleanup(b.srv.Close)
	return b
}

func (b *wsBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.hits++
	upgrade := r.Header.Get("Upgrade") != ""
	if upgrade {
		b.upgrades = append(b.upgrades, r.Header.Clone())
		b.remotes["upgrade"] = r.RemoteAddr
	} else {
		b.remotes["plain"] = r.RemoteAddr
	}
	b.mu.Unlock()
	w.Header().Set("X-Backend", "ws")
	if !upgrade || r.URL.Path == "/refuse" {
		w.Header().Set("X-Seen-Upgrade", r.Header.Get("Upgrade"))
		w.Header().Set("X-Seen-Connection", r.Header.Get("Connection"))
		if r.URL.Path == "/refuse" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "refused")
			return
		}
		io.WriteString(w, "plain")
		return
	}
	switch r.URL.Path {
	case "/slow":
		time.Sleep(600 * time.Millisecond)
	case "/slower":
		time.Sleep(time.Second)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		webSocketAccept(r.Header.Get("Sec-WebSocket-Key"))+"\r\nX-Backend: ws\r\n\r\nhello|")
	io.Copy(conn, brw.Reader) // bytes the client sent with its head come first
	io.WriteString(conn, "|bye")
}

func (b *wsBackend) snapshot() (hits int, upgrades []http.Header, remotes map[string]string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rm := map[string]string{}
	for k, v := range b.remotes {
		rm[k] = v
	}
	return b.hits, append([]http.Header(nil), b.upgrades...), rm
}

// webSocketAccept is RFC 6455's answer to a Sec-WebSocket-Key.
func webSocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

const testWebSocketKey = "dGhlIHNhbXBsZSBub25jZQ=="

// wsHandshake writes an upgrade request to path on c, followed in the same write by early,
// and reads the answer's head.
func wsHandshake(t testing.TB, c net.Conn, path, early string) (*bufio.Reader, *http.Response) {
	t.Helper()
	return rawRequest(t, c, "GET "+path+" HTTP/1.1\r\nHost: svc\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\nX-Hop: 1\r\n"+
		"Sec-WebSocket-Key: "+testWebSocketKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n"+early)
}

// rawRequest writes req on c as it is and reads the answer's head.
func rawRequest(t testing.TB, c net.Conn, req string) (*bufio.Reader, *http.Response) {
	t.Helper()
	c.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	return br, resp
}

func dialProxy(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readN(t testing.TB, br *bufio.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return string(b)
}

// exerciseTunnel checks an open tunnel: the backend's first bytes, the early bytes echoed, a
// payload larger than 64 KiB both ways, then the client's half-close and the backend's last
// bytes after it.
func exerciseTunnel(t *testing.T, c net.Conn, br *bufio.Reader, early string) {
	t.Helper()
	if got := readN(t, br, len("hello|")+len(early)); got != "hello|"+early {
		t.Fatalf("first tunnel bytes %q, want %q", got, "hello|"+early)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	if got := readN(t, br, len(payload)); got != string(payload) {
		t.Fatal("the large payload came back altered")
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T cannot half-close", c)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "|bye" {
		t.Fatalf("after the half-close: %q, %v; want the backend's \"|bye\" then EOF", rest, err)
	}
}

func wsSidecar(be *wsBackend, routes *routev3.RouteConfiguration, listeners ...types.Resource) sidecar {
	return sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"ws": {be.srv}}, listeners: listeners}
}

// TestWebSocketUpgradeRoundTrip: the handshake with its Sec-WebSocket-* headers both ways,
// bytes pipelined behind the head, a large payload, half-close, status 101 counted, and the
// tunnel on a connection of its own that the pool never sees.
func TestWebSocketUpgradeRoundTrip(t *testing.T) {
	be := newWSBackend(t, false)
	_, p, _ := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), webSocketListener("ws", 15002)))
	addr := p.ListenerAddr("ws")
	client := newClient()
	if code, _ := get(t, client, addr, "svc", "/before"); code != http.StatusOK {
		t.Fatalf("plain request: %d", code)
	}

	c := dialProxy(t, addr)
	br, resp := wsHandshake(t, c, "/chat", "early")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %d, want 101", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != webSocketAccept(testWebSocketKey) {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, webSocketAccept(testWebSocketKey))
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !headerHasToken(resp.Header["Connection"], "upgrade") || resp.Header.Get("X-Backend") != "ws" {
		t.Errorf("101 headers %v", resp.Header)
	}
	// The 101 is a response like any other to the connection manager and the router.
	if resp.Header.Get("Server") != "envoy" || !isDigits(resp.Header.Get("X-Envoy-Upstream-Service-Time")) {
		t.Errorf("101 Server %q, x-envoy-upstream-service-time %q", resp.Header.Get("Server"), resp.Header.Get("X-Envoy-Upstream-Service-Time"))
	}
	if !strings.Contains(metricsOf(t, p), "signalbox_proxy_upgrades_active 1") {
		t.Error("the open tunnel is not counted in signalbox_proxy_upgrades_active")
	}
	exerciseTunnel(t, c, br, "early")

	_, upgrades, remotes := be.snapshot()
	if len(upgrades) != 1 {
		t.Fatalf("the backend saw %d upgrade requests, want 1", len(upgrades))
	}
	h := upgrades[0]
	if h.Get("Upgrade") != "websocket" || !headerHasToken(h["Connection"], "upgrade") || h.Get("Sec-WebSocket-Key") != testWebSocketKey ||
		h.Get("Sec-WebSocket-Version") != "13" || h.Get("X-Hop") != "" || h.Get("X-Forwarded-For") == "" {
		t.Errorf("upstream upgrade request headers %v", h)
	}
	if remotes["upgrade"] == remotes["plain"] {
		t.Errorf("the upgrade went over the pooled connection %s", remotes["plain"])
	}
	if code, _ := get(t, client, addr, "svc", "/after"); code != http.StatusOK {
		t.Fatalf("plain request after the tunnel: %d", code)
	}
	if _, _, after := be.snapshot(); after["plain"] == remotes["upgrade"] {
		t.Errorf("a plain request reused the tunnel's connection %s", after["plain"])
	}
	if m := metricsOf(t, p); !strings.Contains(m, `signalbox_proxy_requests_total{cluster="ws",code="101"} 1`) {
		t.Error("the upgrade is not counted with status 101")
	}
	// The client sees the end of the tunnel just before the proxy finishes with it.
	for deadline := time.Now().Add(testTimeout); !strings.Contains(metricsOf(t, p), "signalbox_proxy_upgrades_active 0"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("signalbox_proxy_upgrades_active did not return to 0")
		}
	}
}

// TestWebSocketUpgradeRefused: a backend that answers the upgrade with 403 is relayed as a
// plain response, and the client's connection then serves a next request.
func TestWebSocketUpgradeRefused(t *testing.T) {
	be := newWSBackend(t, false)
	_, p, _ := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), webSocketListener("ws", 15002)))
	c := dialProxy(t, p.ListenerAddr("ws"))
	br, resp := wsHandshake(t, c, "/refuse", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || string(body) != "refused" {
		t.Fatalf("refused upgrade: %d %q, want 403 \"refused\"", resp.StatusCode, body)
	}
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: svc\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "plain" {
		t.Fatalf("next request on the connection: %d %q", resp.StatusCode, body)
	}
}

// TestWebSocketRouteTimeout: the route timeout bounds the handshake (504 when the 101 is
// late) but not the tunnel, which outlives it.
func TestWebSocketRouteTimeout(t *testing.T) {
	be := newWSBackend(t, false)
	rt := prefixRoute("/", "ws")
	rt.GetRoute().Timeout = durationpb.New(300 * time.Millisecond)
	_, p, _ := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, rt)), webSocketListener("ws", 15002)))
	addr := p.ListenerAddr("ws")

	_, resp := wsHandshake(t, dialProxy(t, addr), "/slow", "")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("a 101 later than the route timeout: %d, want 504", resp.StatusCode)
	}

	c := dialProxy(t, addr)
	br, resp := wsHandshake(t, c, "/chat", "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %d, want 101", resp.StatusCode)
	}
	if got := readN(t, br, len("hello|")); got != "hello|" {
		t.Fatalf("first bytes %q", got)
	}
	time.Sleep(600 * time.Millisecond) // twice the route timeout
	io.WriteString(c, "still there")
	if got := readN(t, br, len("still there")); got != "still there" {
		t.Fatalf("after the route timeout: %q", got)
	}
}

// TestWebSocketSlowHandshake: while the proxy waits long for the 101 it watches the client's
// connection (clientwatch.go); a byte the client sends meanwhile still reaches the backend,
// and a watch still reading when the 101 comes is stopped before the tunnel reads, so no byte
// is taken out of order.
func TestWebSocketSlowHandshake(t *testing.T) {
	be := newWSBackend(t, false)
	_, p, _ := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), webSocketListener("ws", 15002)))
	addr := p.ListenerAddr("ws")
	for _, early := range []string{"", "w"} {
		t.Run("early="+early, func(t *testing.T) {
			t.Parallel()
			c := dialProxy(t, addr)
			if early != "" {
				go func() {
					time.Sleep(800 * time.Millisecond) // the watch has started; the 101 comes at 1 s
					io.WriteString(c, early)
				}()
			}
			br, resp := wsHandshake(t, c, "/slower", "")
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %d, want 101", resp.StatusCode)
			}
			exerciseTunnel(t, c, br, early)
		})
	}
}

// TestWebSocketRBACDenied: RBAC refuses an upgrade request with 403 before any upstream
// connection; the listener's other paths still upgrade.
func TestWebSocketRBACDenied(t *testing.T) {
	be := newWSBackend(t, false)
	deny := rbacHTTPFilter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"no-admin": policy(perms(pathPerm(exact("/admin"))), ids(anyID))})
	_, p, _ := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), webSocketListener("ws", 15002, deny)))
	addr := p.ListenerAddr("ws")
	_, resp := wsHandshake(t, dialProxy(t, addr), "/admin", "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("denied upgrade: %d, want 403", resp.StatusCode)
	}
	if hits, _, _ := be.snapshot(); hits != 0 {
		t.Errorf("the backend saw %d requests, want none", hits)
	}
	c := dialProxy(t, addr)
	br, resp := wsHandshake(t, c, "/chat", "x")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("allowed upgrade: %d, want 101", resp.StatusCode)
	}
	exerciseTunnel(t, c, br, "x")
}

// TestUpgradeNotEnabled: an upgrade the connection manager does not enable (websocket
// without upgrade_configs, another type with them) is answered 403 and the connection closed,
// before the backend, as Envoy answers it; an h2c upgrade, or Upgrade without "Connection:
// upgrade", goes as a plain request without those headers.
func TestUpgradeNotEnabled(t *testing.T) {
	be := newWSBackend(t, false)
	_, p, plainAddr := setup(t, wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), webSocketListener("ws", 15002)))
	for _, c := range []struct{ name, addr, req string }{
		{"websocket without upgrade_configs", plainAddr, "GET /chat HTTP/1.1\r\nHost: svc\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{"another upgrade type", p.ListenerAddr("ws"), "GET /chat HTTP/1.1\r\nHost: svc\r\nUpgrade: foo/2\r\nConnection: upgrade\r\n\r\n"},
	} {
		br, resp := rawRequest(t, dialProxy(t, c.addr), c.req)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || !resp.Close || len(body) != 0 {
			t.Errorf("%s: %d close=%v body %q, want 403, no body, connection closed", c.name, resp.StatusCode, resp.Close, body)
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Errorf("%s: after the 403: %q %v, want the connection closed", c.name, rest, err)
		}
	}
	if hits, _, _ := be.snapshot(); hits != 0 {
		t.Errorf("refused upgrades reached the backend %d times", hits)
	}
	for _, c := range []struct{ name, addr, req string }{
		{"h2c", p.ListenerAddr("ws"), "GET /h2c HTTP/1.1\r\nHost: svc\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"},
		{"no Connection token", plainAddr, "GET /chat HTTP/1.1\r\nHost: svc\r\nUpgrade: websocket\r\n\r\n"},
	} {
		_, resp := rawRequest(t, dialProxy(t, c.addr), c.req)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "plain" || resp.Header.Get("X-Seen-Upgrade") != "" || resp.Header.Get("X-Seen-Connection") != "" {
			t.Errorf("%s: %d %q, backend saw Upgrade %q Connection %q; want a plain request without them",
				c.name, resp.StatusCode, body, resp.Header.Get("X-Seen-Upgrade"), resp.Header.Get("X-Seen-Connection"))
		}
	}
	if m := metricsOf(t, p); !strings.Contains(m, "signalbox_proxy_upgrades_rejected_total 2") {
		t.Error("the refused upgrades are not counted in signalbox_proxy_upgrades_rejected_total")
	}
}

// TestWebSocketTLS: a gateway listener terminating TLS tunnels to a cluster that originates
// TLS, half-close (close_notify) included.
func TestWebSocketTLS(t *testing.T) {
	be := newWSBackend(t, true)
	pki := newPKI(t, "backend.example")
	gw := webSocketListener("gw", 8443)
	terminateTLS(t, gw, pki)
	cfg := wsSidecar(be, routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "ws"))), gw)
	cfg.edit = map[string]func(*clusterv3.Cluster){"ws": func(c *clusterv3.Cluster) {
		c.TransportSocket = upstreamTLS(t, &tlsv3.UpstreamTlsContext{})
	}}
	_, p, _ := setup(t, cfg)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", p.ListenerAddr("gw"), &tls.Config{ServerName: "backend.example", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br, resp := wsHandshake(t, c, "/chat", "tls")
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != webSocketAccept(testWebSocketKey) {
		t.Fatalf("handshake over TLS: %d %v", resp.StatusCode, resp.Header)
	}
	exerciseTunnel(t, c, br, "tls")
}

// TestDecodeUpgradeConfigs: websocket (any case, enabled by default) is accepted; other
// upgrade types, per-upgrade filters, a type given twice, and route-level upgrade_configs
// are refused, naming the field.
func TestDecodeUpgradeConfigs(t *testing.T) {
	with := func(ucs ...*hcmv3.HttpConnectionManager_UpgradeConfig) *listenerv3.Listener {
		return hcmOf(httpListener("l", "0.0.0.0", 8080, "r"), func(m *hcmv3.HttpConnectionManager) { m.UpgradeConfigs = ucs })
	}
	type uc = hcmv3.HttpConnectionManager_UpgradeConfig
	for _, c := range []struct {
		name    string
		l       *listenerv3.Listener
		enabled bool
	}{
		{"none", with(), false},
		{"websocket", with(&uc{UpgradeType: "websocket"}), true},
		{"WebSocket", with(&uc{UpgradeType: "WebSocket", Enabled: wrapperspb.Bool(true)}), true},
		{"disabled", with(&uc{UpgradeType: "websocket", Enabled: wrapperspb.Bool(false)}), false},
	} {
		cfg, err := decodeListener(c.l)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if cfg.filters.websocket != c.enabled {
			t.Errorf("%s: websocket %v, want %v", c.name, cfg.filters.websocket, c.enabled)
		}
	}
	for want, l := range map[string]*listenerv3.Listener{
		"upgrade_configs[0].upgrade_type: upgrade type \"CONNECT\" is not supported":      with(&uc{UpgradeType: "CONNECT"}),
		"upgrade_configs[0].filters: field not supported":                                 with(&uc{UpgradeType: "websocket", Filters: []*hcmv3.HttpFilter{routerFilter()}}),
		"upgrade_configs[1].upgrade_type: upgrade type \"websocket\" is configured twice": with(&uc{UpgradeType: "WEBSOCKET"}, &uc{UpgradeType: "websocket"}),
	} {
		if _, err := decodeListener(l); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
	rt := prefixRoute("/", "ws")
	rt.GetRoute().UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}}
	if _, err := decodeRouteConfiguration(routeConfiguration("r", vhost("v", []string{"*"}, rt))); err == nil || !strings.Contains(err.Error(), "upgrade_configs") {
		t.Errorf("route-level upgrade_configs: %v, want a NACK naming upgrade_configs", err)
	}
}
