package e2e

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// WebSocket through a gateway, as Istio lets it through (upgrade_configs websocket on every
// connection manager): the handshake reaches the backend with its Upgrade headers, the
// backend's 101 and Sec-WebSocket-Accept come back, and then bytes flow both ways over the
// same connection until the client closes. A plain request on the same route still works.
func TestFeatureWebSocketAtGateway(t *testing.T) {
	backend := startWebSocketEcho(t)
	host, port, _ := net.SplitHostPort(backend)
	m := startMesh(t, map[string]string{
		"policies/chat.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: chat}
spec:
  hosts: [chat.example.com]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: %s, ports: {http: %s}}]
---
`, host, port) + ingressGateway("chat.example.com") + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: chat}
spec:
  hosts: [chat.example.com]
  gateways: [public]
  http:
  - route: [{destination: {host: chat.example.com}}]
    timeout: 1s
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_80")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 80")
	}

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		t.Fatalf("handshake answered %s %v, want 101 with the backend's Sec-WebSocket-Accept", resp.Status, resp.Header)
	}
	// Longer than the route's 1 s timeout: the tunnel outlives it, as Envoy's does.
	for i, msg := range []string{"hello", strings.Repeat("x", 100<<10), "after the route timeout"} {
		if i == 2 {
			time.Sleep(1200 * time.Millisecond)
		}
		if _, err := io.WriteString(c, msg+"\n"); err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != strings.ToUpper(msg)+"\n" {
			t.Fatalf("message %d: got %d bytes, %v; want it echoed in upper case", i, len(line), err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "BYE\n" {
		t.Errorf("after the client's half-close: %q %v, want the backend's last words", rest, err)
	}

	// The same route still answers plain requests.
	req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "http://"+addr+"/plain", nil)
	req.Host = "chat.example.com"
	plain, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusOK {
		t.Errorf("a plain request: %s", plain.Status)
	}
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// startWebSocketEcho is a backend on 127.0.0.1:0: a WebSocket handshake is answered 101 and the
// connection then echoes each line in upper case until the client half-closes, when it says
// "BYE" and closes; any other request gets 200.
func startWebSocketEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.Write([]byte("plain"))
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			acceptKey(r.Header.Get("Sec-WebSocket-Key")))
		rw.Flush()
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				rw.WriteString("BYE\n")
				rw.Flush()
				return
			}
			rw.WriteString(strings.ToUpper(line))
			rw.Flush()
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
