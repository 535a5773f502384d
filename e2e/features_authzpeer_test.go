package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// AuthorizationPolicy on the peer's mTLS identity at a gateway that requires client
// certificates (MUTUAL): the identity is the certificate's SPIFFE URI SAN, matched as Istio
// matches principals, namespaces and serviceAccounts.
func TestFeatureAuthorizationByPeerIdentity(t *testing.T) {
	p := newPKI(t, "shop.example.com")
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": serviceEntry("shop", "shop.example.com", shop.endpoint("app: shop")) + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: partners}
spec:
  selector: {istio: partnergateway}
  servers:
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [partners]
  http:
  - route: [{destination: {host: shop.example.com}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: partners}
spec:
  rules:
  - from: [{source: {principals: [cluster.local/ns/acme/sa/orders]}}]
  - from: [{source: {namespaces: [globex], notServiceAccounts: [globex/intern]}}]
    to: [{operation: {methods: [GET]}}]
`, p.serverFile, p.serverKFile, p.caFile),
	})
	gw := startGateway(t, m, map[string]string{"istio": "partnergateway"})
	addr := gw.ListenerAddr("0.0.0.0_8443")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 8443")
	}
	send := func(id, method string) int {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "shop.example.com",
			Certificates: []tls.Certificate{p.workload(id)}}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(m.ctx, method, "https://"+addr+"/cart", nil)
		req.Host = "shop.example.com"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s as %s: %v", method, id, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		id, method string
		want       int
	}{
		{"spiffe://cluster.local/ns/acme/sa/orders", "POST", 200},
		{"spiffe://cluster.local/ns/acme/sa/billing", "GET", 403},
		{"spiffe://cluster.local/ns/globex/sa/web", "GET", 200},
		{"spiffe://cluster.local/ns/globex/sa/web", "POST", 403},
		{"spiffe://cluster.local/ns/globex/sa/intern", "GET", 403},
		{"spiffe://other.domain/ns/globex/sa/web", "GET", 200}, // namespaces match any trust domain, as Istio's
	} {
		before := len(shop.requests())
		got := send(c.id, c.method)
		reached := len(shop.requests()) > before
		if got != c.want || reached != (c.want == 200) {
			t.Errorf("%s as %s: %d (backend reached: %v), want %d", c.method, c.id, got, reached, c.want)
		}
	}
}
