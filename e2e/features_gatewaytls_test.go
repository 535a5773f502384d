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

// An ingress gateway terminates TLS with certificates from files, as a Gateway's HTTPS servers
// name them: HTTPS and h2 on one port, client certificates required on another (MUTUAL, with
// a subject alt name) or checked when presented (OPTIONAL_MUTUAL), and plain HTTP redirected
// to https (httpsRedirect). Requests that came
// over TLS match scheme https and reach the backend with x-forwarded-proto https.
func TestFeatureGatewayTLS(t *testing.T) {
	p := newPKI(t, "shop.example.com")
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": serviceEntry("shop", "shop.example.com", shop.endpoint("app: shop")) + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, serverCertificate: %[1]s, privateKey: %[2]s}
  - port: {number: 8443, name: https-partners, protocol: HTTPS}
    hosts: [shop.example.com]
    tls:
      mode: MUTUAL
      serverCertificate: %[1]s
      privateKey: %[2]s
      caCertificates: %[3]s
      subjectAltNames: [partner.example.org]
  - port: {number: 9443, name: https-optional, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: OPTIONAL_MUTUAL, serverCertificate: %[1]s, privateKey: %[2]s, caCertificates: %[3]s}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [public]
  http:
  - match: [{scheme: {exact: https}, uri: {prefix: /scheme}}]
    directResponse: {status: 200, body: {string: "over https"}}
  - route: [{destination: {host: shop.example.com}}]
`, p.serverFile, p.serverKFile, p.caFile),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := func(port int) string {
		a := gw.ListenerAddr(fmt.Sprintf("0.0.0.0_%d", port))
		if a == "" {
			t.Fatalf("the gateway has no listener for port %d", port)
		}
		return a
	}
	client := func(h2 bool, certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "shop.example.com", Certificates: certs},
			ForceAttemptHTTP2: h2}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, url string) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, url, nil)
		req.Host = "shop.example.com"
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}

	for _, h2 := range []bool{false, true} {
		resp, body, err := get(client(h2), "https://"+addr(443)+"/cart")
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"shop"`) {
			t.Fatalf("https (h2 %v): %v %v %s", h2, resp, err, body)
		}
		if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want {
			t.Errorf("https (h2 %v): answered over %s", h2, resp.Proto)
		}
		seen := shop.requests()
		if got := seen[len(seen)-1].Headers.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("https (h2 %v): the backend saw x-forwarded-proto %q, want https", h2, got)
		}
		if _, body, err := get(client(h2), "https://"+addr(443)+"/scheme"); err != nil || body != "over https" {
			t.Errorf("https (h2 %v): the scheme match: %q %v", h2, body, err)
		}
	}

	// Port 80 redirects to https, 301, keeping the path and query.
	resp, _, err := get(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		"http://"+addr(80)+"/cart?item=1")
	if err != nil || resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://shop.example.com/cart?item=1" {
		t.Fatalf("http with httpsRedirect: %v %v", resp, err)
	}

	// MUTUAL: refused without a client certificate, served with one the CA signed.
	if _, _, err := get(client(false), "https://"+addr(8443)+"/"); err == nil {
		t.Error("MUTUAL served a client without a certificate")
	}
	cert, err := tls.LoadX509KeyPair(p.clientCert, p.clientK)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, err := get(client(false, cert), "https://"+addr(8443)+"/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("MUTUAL with the partner's certificate: %v %v", resp, err)
	}
	// Signed by the CA but without the subject alt name asked for; and signed by another CA.
	if _, _, err := get(client(false, p.serverCert), "https://"+addr(8443)+"/"); err == nil {
		t.Error("MUTUAL served a certificate without partner.example.org")
	}
	other := newPKI(t, "shop.example.com")
	if _, _, err := get(client(false, other.serverCert), "https://"+addr(8443)+"/"); err == nil {
		t.Error("MUTUAL served a certificate from another CA")
	}

	// OPTIONAL_MUTUAL: no certificate is fine, one the CA did not sign is not.
	if resp, _, err := get(client(false), "https://"+addr(9443)+"/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("OPTIONAL_MUTUAL without a certificate: %v %v", resp, err)
	}
	if _, _, err := get(client(false, other.serverCert), "https://"+addr(9443)+"/"); err == nil {
		t.Error("OPTIONAL_MUTUAL served a certificate from another CA")
	}
}
