package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// One gateway port, two treatments chosen by SNI: app.example.com is terminated at the gateway
// (the gateway's certificate, its HTTP routes), legacy.example.com is passed through untouched
// to a backend that presents its own certificate, which the gateway never holds.
func TestFeatureTerminateAndPassThroughOnOnePort(t *testing.T) {
	gatewayPKI := newPKI(t, "app.example.com")
	legacyPKI := newPKI(t, "legacy.example.com")
	app := startEchoServer(t, "app")
	legacy := startTLSGreeter(t, legacyPKI, "legacy")
	h, p, _ := net.SplitHostPort(legacy)
	m := startMesh(t, map[string]string{
		"policies/edge.yaml": serviceEntry("app", "app.example.com", app.endpoint("app: app")) + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy}
spec:
  hosts: [legacy.internal]
  ports: [{number: 8443, name: tls, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: %s, ports: {tls: %s}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-app, protocol: HTTPS}
    hosts: [app.example.com]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
  - port: {number: 443, name: tls-legacy, protocol: TLS}
    hosts: [legacy.example.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: legacy}
spec:
  hosts: [legacy.example.com]
  gateways: [public]
  tls:
  - match: [{port: 443, sniHosts: [legacy.example.com]}]
    route: [{destination: {host: legacy.internal}}]
---
`, h, p, gatewayPKI.serverFile, gatewayPKI.serverKFile) + gatewayRoute("app", "app.example.com"),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_443")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 443")
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "app.example.com", RootCAs: gatewayPKI.pool}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "https://"+addr+"/", nil)
	req.Host = "app.example.com"
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("app over the gateway's certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"app"`) {
		t.Errorf("app over the gateway's certificate: %s %s", resp.Status, body)
	}

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "legacy.example.com", RootCAs: legacyPKI.pool})
	if err != nil {
		t.Fatalf("legacy passed through: the handshake with the backend's own certificate failed: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); err != nil || strings.TrimSpace(string(b)) != "legacy hello legacy.example.com" {
		t.Errorf("legacy passed through: %q %v", b, err)
	}
}
