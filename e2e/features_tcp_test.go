package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalbox/signalbox/proxy"
)

// Istio's "TCP traffic shifting" task at an ingress gateway: a Gateway TCP server and a
// VirtualService tcp route sending 80% of connections to v1 and 20% to v2 of a TCP echo
// service; bytes go both ways through the gateway proxy, and a client's half-close still
// gets the backend's answer.
func TestFeatureTCPRouteAtGateway(t *testing.T) {
	v1 := startTCPEcho(t, "v1")
	v2 := startTCPEcho(t, "v2")
	endpoint := func(addr, version string) string {
		h, p, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("  - {address: %s, ports: {tcp: %s}, labels: {app: tcp-echo, version: %s}}\n", h, p, version)
	}
	m := startMesh(t, map[string]string{
		"policies/tcp.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.example.com]
  ports:
  - {number: 9000, name: tcp, protocol: TCP}
  resolution: STATIC
  endpoints:
` + endpoint(v1, "v1") + endpoint(v2, "v2") + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo.example.com
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: ["*"]
  gateways: [tcp-gateway]
  tcp:
  - match: [{port: 31400}]
    route:
    - {destination: {host: tcp-echo.example.com, port: {number: 9000}, subset: v1}, weight: 80}
    - {destination: {host: tcp-echo.example.com, port: {number: 9000}, subset: v2}, weight: 20}
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_31400")
	if addr == "" {
		t.Fatal("the gateway has no listener for TCP port 31400")
	}

	// The admin page shows the listener as a TCP proxy to both subsets' clusters.
	rec := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config", nil))
	var dump proxy.ConfigDump
	if err := json.Unmarshal(rec.Body.Bytes(), &dump); err != nil {
		t.Fatalf("GET /config: %v", err)
	}
	want := []string{"outbound|9000|v1|tcp-echo.example.com", "outbound|9000|v2|tcp-echo.example.com"}
	for _, l := range dump.Listeners {
		if l.Name == "0.0.0.0_31400" && (!l.Routed || !slices.Equal(l.TCPClusters, want)) {
			t.Errorf("admin /config listener %+v, want routed to %v", l, want)
		}
	}

	// One exchange per connection: the client writes a line and half-closes; the backend
	// answers with its version and the line, then closes.
	exchange := func(i int) string {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line := fmt.Sprintf("hello %d", i)
		if _, err := io.WriteString(c, line+"\n"); err != nil {
			t.Fatalf("connection %d: write: %v", i, err)
		}
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("connection %d: read: %v", i, err)
		}
		version, echoed, _ := strings.Cut(strings.TrimSpace(string(got)), " ")
		if echoed != line {
			t.Fatalf("connection %d: got %q back, want %q from a backend", i, got, line)
		}
		return version
	}
	const n = 400
	counts := map[string]int{}
	for i := range n {
		counts[exchange(i)]++
	}
	// 80/20 over 400 connections: v1's share within 80±6% (a binomial bound over 4 standard deviations).
	if share := float64(counts["v1"]) / n; share < 0.74 || share > 0.86 || counts["v1"]+counts["v2"] != n {
		t.Errorf("connections by version %v: v1 %.1f%%, want 80±6%%", counts, 100*share)
	}
}

// startTCPEcho is a TCP backend on 127.0.0.1:0: for each connection it reads until the
// client's half-close, then answers "VERSION DATA" and closes.
func startTCPEcho(t *testing.T, version string) string {
	return serveTCP(t, nil, func(c net.Conn) {
		data, _ := io.ReadAll(c) // until the client's FIN, passed on by the proxy
		fmt.Fprintf(c, "%s %s\n", version, strings.TrimSpace(string(data)))
	})
}

// serveTCP runs handle on every connection to a listener on 127.0.0.1:0 (each bounded to 10 s)
// until the test ends, counting them in accepted when it is not nil; it returns the address.
func serveTCP(t *testing.T, accepted *atomic.Int64, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if accepted != nil {
				accepted.Add(1)
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
