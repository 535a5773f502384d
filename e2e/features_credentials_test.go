package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Gateways written for Kubernetes name their certificates with credentialName. With
// credentialsDir in signalbox.yaml, the gateway reads each from NAME/tls.crt and NAME/tls.key
// under that directory (a TLS Secret mounted as a volume), and a MUTUAL server its client CA
// from NAME/ca.crt: HTTPS works, and client certificates are required where asked.
func TestFeatureGatewayCredentialName(t *testing.T) {
	p := newPKI(t, "shop.example.com")
	creds := t.TempDir()
	secret := filepath.Join(creds, "shop-credential")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{p.serverFile: "tls.crt", p.serverKFile: "tls.key", p.caFile: "ca.crt"} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(secret, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/signalbox.yaml": "credentialsDir: " + creds + "\n",
		"policies/shop.yaml": serviceEntry("shop", "shop.example.com", shop.endpoint("app: shop")) + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-credential}
  - port: {number: 8443, name: https-partners, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: MUTUAL, credentialName: shop-credential}
---
` + gatewayRoute("shop", "shop.example.com"),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	clientCert, err := tls.LoadX509KeyPair(p.clientCert, p.clientK)
	if err != nil {
		t.Fatal(err)
	}
	get := func(listener string, certs ...tls.Certificate) (string, error) {
		addr := gw.ListenerAddr(listener)
		if addr == "" {
			t.Fatalf("the gateway has no listener %s", listener)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "shop.example.com", Certificates: certs}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "https://"+addr+"/cart", nil)
		req.Host = "shop.example.com"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if body, err := get("0.0.0.0_443"); err != nil || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("https with the credential's certificate: %q %v", body, err)
	}
	if _, err := get("0.0.0.0_8443"); err == nil {
		t.Errorf("MUTUAL without a client certificate: served, want the handshake refused")
	}
	if body, err := get("0.0.0.0_8443", clientCert); err != nil || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("MUTUAL with a client certificate the credential's ca.crt signed: %q %v", body, err)
	}
}
