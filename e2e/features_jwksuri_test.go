package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// RequestAuthentication with jwksUri: the gateway proxy fetches the identity provider's keys
// itself, over HTTPS through the cluster of the provider's ServiceEntry (TLS originated as its
// DestinationRule says), once for many requests, and verifies tokens with them.
func TestFeatureRequestAuthenticationJWKSURI(t *testing.T) {
	key := rsaKey(t)
	const issuer = "https://idp.example.com"
	p := newPKI(t, "idp.example.com")
	var fetches atomic.Int64
	jwks := jwksOf(t, "k1", &key.PublicKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	idp := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" || r.Host != "idp.example.com" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, jwks)
	}), ReadHeaderTimeout: 5 * time.Second}
	go idp.ServeTLS(ln, p.serverFile, p.serverKFile)
	t.Cleanup(func() { idp.Close() })
	idpHost, idpPort, _ := net.SplitHostPort(ln.Addr().String())

	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": shopBehindGateway(shop),
		"policies/idp.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: idp, namespace: istio-system}
spec:
  hosts: [idp.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: STATIC
  endpoints: [{address: %s, ports: {https: %s}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: idp, namespace: istio-system}
spec:
  host: idp.example.com
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: %s, sni: idp.example.com}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  jwtRules:
  - issuer: %q
    jwksUri: https://idp.example.com/.well-known/jwks.json
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: signed-in}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
`, idpHost, idpPort, p.caFile, issuer),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_80")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 80")
	}
	now := time.Now()
	alice := signRS256(t, key, "k1", map[string]any{"iss": issuer, "sub": "alice", "exp": now.Add(time.Hour).Unix()})
	other := rsaKey(t)
	forged := signRS256(t, other, "k1", map[string]any{"iss": issuer, "sub": "alice", "exp": now.Add(time.Hour).Unix()})

	get := func(token string) int {
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "http://"+addr+"/", nil)
		req.Host = "shop.example.com"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 20 {
		if got := get(alice); got != http.StatusOK {
			t.Fatalf("request %d with a token signed by the provider's key: %d, want 200", i, got)
		}
	}
	if got := get(forged); got != http.StatusUnauthorized {
		t.Errorf("a token signed by another key: %d, want 401", got)
	}
	if got := get(""); got != http.StatusForbidden {
		t.Errorf("no token: %d, want 403 (the policy asks for a request principal)", got)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the provider's keys were fetched %d times for 22 requests, want once (cached)", n)
	}
}
