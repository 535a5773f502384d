package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RequestAuthentication and AuthorizationPolicy at an ingress gateway, as Istio's "JWT at the
// ingress" task sets them up: tokens are verified against the inline JWKS (an invalid or
// expired one is refused with 401, a missing one is left to authorization), and the
// AuthorizationPolicy then decides on the verified issuer/subject and claims.
func TestFeatureRequestAuthenticationAtGateway(t *testing.T) {
	key := rsaKey(t)
	other := rsaKey(t)
	const issuer = "https://issuer.example.com"
	jwks := jwksOf(t, "k1", &key.PublicKey)

	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": shopBehindGateway(shop),
		"policies/authn.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  jwtRules:
  - issuer: %q
    audiences: [shop]
    jwks: '%s'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: orders}
spec:
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["%s/alice"]}}]
    to: [{operation: {paths: ["/orders*"]}}]
  - to: [{operation: {paths: ["/public*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: banned}
spec:
  action: DENY
  rules:
  - when: [{key: "request.auth.claims[groups]", values: [banned]}]
`, issuer, jwks, issuer),
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_80")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 80")
	}

	now := time.Now()
	claims := func(sub string, exp time.Time, extra map[string]any) map[string]any {
		c := map[string]any{"iss": issuer, "sub": sub, "aud": "shop", "iat": now.Unix(), "exp": exp.Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	alice := signRS256(t, key, "k1", claims("alice", now.Add(time.Hour), nil))
	bob := signRS256(t, key, "k1", claims("bob", now.Add(time.Hour), nil))
	expired := signRS256(t, key, "k1", claims("alice", now.Add(-time.Hour), nil))
	forged := signRS256(t, other, "k1", claims("alice", now.Add(time.Hour), nil))
	wrongAud := signRS256(t, key, "k1", map[string]any{"iss": issuer, "sub": "alice", "aud": "billing", "exp": now.Add(time.Hour).Unix()})
	banned := signRS256(t, key, "k1", claims("alice", now.Add(time.Hour), map[string]any{"groups": []string{"staff", "banned"}}))

	client := &http.Client{Timeout: 10 * time.Second}
	cases := []struct {
		name, path, token string
		want              int
	}{
		{"public without a token", "/public/catalogue", "", 200},
		{"public with a forged token", "/public/catalogue", forged, 401},
		{"public with an expired token", "/public/catalogue", expired, 401},
		{"public with another audience", "/public/catalogue", wrongAud, 403}, // Envoy: 403 for this one failure
		{"orders without a token", "/orders", "", 403},
		{"orders as alice", "/orders/7", alice, 200},
		{"orders as bob", "/orders/7", bob, 403},
		{"orders as alice in group banned", "/orders/7", banned, 403},
	}
	for _, c := range cases {
		req, err := http.NewRequestWithContext(m.ctx, http.MethodGet, "http://"+addr+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.example.com"
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		before := len(shop.requests())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen := shop.requests()
		reached := len(seen) > before
		if resp.StatusCode != c.want || reached != (c.want == 200) {
			t.Errorf("%s: %d %q (backend reached: %v), want %d", c.name, resp.StatusCode, body, reached, c.want)
			continue
		}
		if c.want == 401 && !strings.HasPrefix(resp.Header.Get("Www-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without a Bearer challenge (www-authenticate %q)", c.name, resp.Header.Get("Www-Authenticate"))
		}
		if reached && c.token != "" && seen[len(seen)-1].Headers.Get("Authorization") != "" {
			t.Errorf("%s: the token reached the backend; forwardOriginalToken is false", c.name)
		}
	}
}

// rsaKey is a signing key of an identity provider made for the test.
func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// jwksOf is the JWKS document publishing pub under kid.
func jwksOf(t *testing.T, kid string, pub *rsa.PublicKey) string {
	t.Helper()
	doc := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signRS256 is a compact JWS of claims signed with key, as an identity provider issues them.
func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}
