package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter is an HTTP backend on 127.0.0.1:0 that counts the connections the proxy opens.
type connCounter struct {
	addr  string
	conns atomic.Int64
}

func startConnCounter(t *testing.T) *connCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{addr: ln.Addr().String()}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				c.conns.Add(1)
			}
		},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func (c *connCounter) endpoint() string {
	h, p, _ := strings.Cut(c.addr, ":")
	return fmt.Sprintf("  - {address: %s, ports: {http: %s}}\n", h, p)
}

// pooledService is name's ServiceEntry on c's endpoint and, unless pool is "", a
// DestinationRule whose connectionPool is pool ("http: {...}", "tcp: {...}").
func pooledService(name string, c *connCounter, pool string) string {
	doc := serviceEntry(name, name+".default.svc.cluster.local", c.endpoint())
	if pool == "" {
		return doc
	}
	return doc + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s}
spec:
  host: %s
  trafficPolicy:
    connectionPool: {%s}
`, name, name, pool)
}

// connectionPool's connection settings reach the upstream connections the proxy keeps:
// maxRequestsPerConnection closes a connection after that many requests, idleTimeout closes
// one left idle that long, and without either one kept-alive connection carries every request.
func TestFeatureConnectionPoolConnections(t *testing.T) {
	perConn, idle, kept := startConnCounter(t), startConnCounter(t), startConnCounter(t)
	m := startMesh(t, map[string]string{
		"policies/perconn.yaml": pooledService("perconn", perConn, "http: {maxRequestsPerConnection: 2}"),
		"policies/idle.yaml":    pooledService("idle", idle, "http: {idleTimeout: 200ms}"),
		"policies/kept.yaml":    pooledService("kept", kept, ""),
	})
	for i := range 6 {
		if r := m.get("perconn", "/", nil); r.status != http.StatusOK {
			t.Fatalf("perconn request %d: %d", i, r.status)
		}
	}
	if n := perConn.conns.Load(); n != 3 {
		t.Errorf("6 requests at 2 per connection opened %d connections, want 3", n)
	}
	for _, c := range []struct {
		host string
		cc   *connCounter
		want int64
	}{{"idle", idle, 3}, {"kept", kept, 1}} {
		for i := range 3 {
			if i > 0 {
				time.Sleep(500 * time.Millisecond)
			}
			if r := m.get(c.host, "/", nil); r.status != http.StatusOK {
				t.Fatalf("%s request %d: %d", c.host, i, r.status)
			}
		}
		if n := c.cc.conns.Load(); n != c.want {
			t.Errorf("%s: 3 requests 500ms apart opened %d connections, want %d", c.host, n, c.want)
		}
	}
}
