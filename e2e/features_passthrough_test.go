package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Istio's "ingress gateway without TLS termination" task: a Gateway server with tls.mode
// PASSTHROUGH on 443 and VirtualService tls routes by SNI. The gateway never decrypts: each
// client completes its handshake with the backend its server name routes to, verifying that
// backend's own certificate (from a certificate authority the gateway knows nothing of), and
// reads what the backend says over the encrypted connection. An exact name, a wildcard, and a
// name no route takes (the connection is closed before any backend sees it).
func TestFeatureTLSPassthroughAtGateway(t *testing.T) {
	nginx := newPKI(t, "nginx.example.com")
	apps := newPKI(t, "shop.apps.example.com")
	nginxAddr := startTLSGreeter(t, nginx, "nginx")
	appsAddr := startTLSGreeter(t, apps, "apps")
	endpoint := func(addr string) string {
		h, p, _ := net.SplitHostPort(addr)
		return fmt.Sprintf("  endpoints: [{address: %s, ports: {tls: %s}}]\n", h, p)
	}
	m := startMesh(t, map[string]string{
		"policies/passthrough.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: my-nginx}
spec:
  hosts: [my-nginx.example.internal]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: STATIC
` + endpoint(nginxAddr) + `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: apps}
spec:
  hosts: [apps.example.internal]
  ports: [{number: 8443, name: tls, protocol: TLS}]
  resolution: STATIC
` + endpoint(appsAddr) + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mygateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: PASSTHROUGH}
    hosts: [nginx.example.com, "*.apps.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nginx}
spec:
  hosts: [nginx.example.com]
  gateways: [mygateway]
  tls:
  - match: [{port: 443, sniHosts: [nginx.example.com]}]
    route: [{destination: {host: my-nginx.example.internal, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: apps}
spec:
  hosts: ["*.apps.example.com"]
  gateways: [mygateway]
  tls:
  - match: [{sniHosts: ["*.apps.example.com"]}]
    route: [{destination: {host: apps.example.internal}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_443")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 443")
	}
	dial := func(serverName string, p *pki) (string, error) {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: p.pool})
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		return strings.TrimSpace(string(b)), err
	}
	for _, tc := range []struct {
		serverName string
		p          *pki
		want       string
	}{
		{"nginx.example.com", nginx, "nginx hello nginx.example.com"},
		{"shop.apps.example.com", apps, "apps hello shop.apps.example.com"},
	} {
		got, err := dial(tc.serverName, tc.p)
		if err != nil || got != tc.want {
			t.Errorf("TLS to %s through the gateway: got %q, %v; want %q from the backend's own certificate", tc.serverName, got, err, tc.want)
		}
	}
	// No route for this name: the gateway closes the connection; no handshake completes.
	if got, err := dial("other.example.com", nginx); err == nil {
		t.Errorf("TLS to other.example.com: handshake completed (%q), want the connection closed", got)
	}
}

// startTLSGreeter is a TLS backend on 127.0.0.1:0 with p's server certificate: after the
// handshake it says "NAME hello SNI" and closes.
func startTLSGreeter(t *testing.T, p *pki, name string) string {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.serverCert}}
	return serveTCP(t, nil, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		fmt.Fprintf(tc, "%s hello %s\n", name, tc.ConnectionState().ServerName)
		tc.Close()
	})
}
