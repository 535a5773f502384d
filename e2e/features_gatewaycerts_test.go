package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// One HTTPS port serving two domains with a certificate each, as most ingress gateways do:
// the client's SNI chooses the certificate it is shown (each client here trusts only its own
// domain's authority, so a wrong certificate fails the handshake), and each certificate's
// routes hold only its own hosts. A name neither server has is refused before any certificate
// is shown.
func TestFeatureGatewayCertificatesBySNI(t *testing.T) {
	shopPKI := newPKI(t, "shop.example.com")
	blogPKI := newPKI(t, "blog.example.org")
	shop := startEchoServer(t, "shop")
	blog := startEchoServer(t, "blog")
	m := startMesh(t, map[string]string{
		"policies/edge.yaml": serviceEntry("shop", "shop.example.com", shop.endpoint("app: shop")) + "---\n" +
			serviceEntry("blog", "blog.example.org", blog.endpoint("app: blog")) + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
  - port: {number: 443, name: https-blog, protocol: HTTPS}
    hosts: [blog.example.org]
    tls: {mode: SIMPLE, serverCertificate: %s, privateKey: %s}
---
`, shopPKI.serverFile, shopPKI.serverKFile, blogPKI.serverFile, blogPKI.serverKFile) +
			gatewayRoute("shop", "shop.example.com") + "---\n" + gatewayRoute("blog", "blog.example.org"),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_443")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 443")
	}
	get := func(serverName, host string, p *pki) (int, string, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: serverName, RootCAs: p.pool}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "https://"+addr+"/", nil)
		req.Host = host
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get("shop.example.com", "shop.example.com", shopPKI); err != nil || code != http.StatusOK || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("shop over its own certificate: %d %q %v", code, body, err)
	}
	if code, body, err := get("blog.example.org", "blog.example.org", blogPKI); err != nil || code != http.StatusOK || !strings.Contains(body, `"name":"blog"`) {
		t.Errorf("blog over its own certificate: %d %q %v", code, body, err)
	}
	// Over blog's certificate, shop's host is not in the route table: Envoy's 404.
	if code, _, err := get("blog.example.org", "shop.example.com", blogPKI); err != nil || code != http.StatusNotFound {
		t.Errorf("shop's host over blog's certificate: %d %v, want 404", code, err)
	}
	if _, _, err := get("other.example.net", "other.example.net", shopPKI); err == nil {
		t.Errorf("an SNI no server has: served, want the connection refused")
	}
}
