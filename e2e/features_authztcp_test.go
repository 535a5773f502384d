package e2e

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// AuthorizationPolicy at a gateway that forwards TCP: the TCP-capable parts of a policy (client
// address, port) decide per connection, as Istio's network RBAC does; a denied connection is
// closed before the proxy connects upstream.
func TestFeatureAuthorizationPolicyForTCP(t *testing.T) {
	var accepted atomic.Int64
	backend := serveTCP(t, &accepted, func(c net.Conn) { io.Copy(c, c) }) // echo until the client's FIN
	h, p, _ := net.SplitHostPort(backend)
	m := startMesh(t, map[string]string{
		"policies/tcp.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.example.com]
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: %s, ports: {tcp: %s}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp-open, protocol: TCP}
    hosts: ["*"]
  - port: {number: 31401, name: tcp-closed, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: ["*"]
  gateways: [tcp-gateway]
  tcp:
  - route: [{destination: {host: echo.example.com, port: {number: 9000}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: loopback-on-31400}
spec:
  action: ALLOW
  rules:
  - from: [{source: {ipBlocks: [127.0.0.0/8]}}]
    to: [{operation: {ports: ["31400"]}}]
`, h, p),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	try := func(port int) (string, error) {
		addr := gw.ListenerAddr(fmt.Sprintf("0.0.0.0_%d", port))
		if addr == "" {
			t.Fatalf("the gateway has no listener for TCP port %d", port)
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "ping")
		c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	if got, err := try(31400); got != "ping" {
		t.Errorf("port 31400 (allowed): got %q, %v; want the echo", got, err)
	}
	before := accepted.Load()
	if got, _ := try(31401); got != "" {
		t.Errorf("port 31401 (no ALLOW rule): got %q through, want the connection closed", got)
	}
	if n := accepted.Load() - before; n != 0 {
		t.Errorf("a denied connection reached the backend (%d accepts)", n)
	}
}
