package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// AuthorizationPolicy at an ingress gateway: a DENY policy from the root namespace that selects
// the gateway's labels, and an ALLOW policy in the Gateway's namespace, enforced by the gateway
// proxy as Envoy's RBAC filter enforces them. A denied request gets 403 "RBAC: access denied"
// and never reaches the backend; DENY wins over ALLOW; a request no ALLOW rule matches is denied.
func TestFeatureAuthorizationPolicyAtGateway(t *testing.T) {
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": shopBehindGateway(shop),
		"policies/authz.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: shop-access}
spec:
  action: ALLOW
  rules:
  # Reads of the catalogue (and of /admin, which the DENY policy still refuses) on port 80.
  - from: [{source: {ipBlocks: ["127.0.0.0/8"]}}]
    to: [{operation: {methods: [GET, HEAD], paths: ["/catalogue/*", "/admin*"], ports: ["80"]}}]
  # Orders only from tenants the gateway knows, by header.
  - to: [{operation: {methods: [POST], paths: [/orders]}}]
    when: [{key: "request.headers[x-tenant]", values: [acme, globex]}]
  # Never from loopback: the request's address decides.
  - from: [{source: {notIpBlocks: ["127.0.0.0/8"]}}]
    to: [{operation: {paths: [/internal]}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_80")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 80")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, path string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(m.ctx, method, "http://"+addr+path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "shop.example.com"
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	cases := []struct {
		method, path string
		header       map[string]string
		allowed      bool
	}{
		{"GET", "/catalogue/shoes", nil, true},
		{"GET", "/catalogue/shoes?size=42", nil, true}, // paths match without the query
		{"HEAD", "/catalogue/", nil, true},
		{"GET", "/catalogue", nil, false}, // "/catalogue/*" is a prefix of "/catalogue/"
		{"DELETE", "/catalogue/shoes", nil, false},
		{"GET", "/admin", nil, false},       // allowed by ALLOW, denied by DENY
		{"GET", "/admin/users", nil, false}, // likewise
		// The gateway makes paths canonical before RBAC reads them (Istio's normalisation
		// BASE), so climbing out of an allowed prefix does not step around the DENY.
		{"GET", "/catalogue/../admin", nil, false},
		{"GET", "/catalogue/%2e%2e/admin/users", nil, false},
		{"GET", "/catalogue/./shoes", nil, true},
		{"POST", "/orders", map[string]string{"X-Tenant": "acme"}, true},
		{"POST", "/orders", map[string]string{"X-Tenant": "globex"}, true},
		{"POST", "/orders", map[string]string{"X-Tenant": "initech"}, false},
		{"POST", "/orders", nil, false},
		{"GET", "/internal", nil, false},
		{"GET", "/", nil, false},
	}
	for _, c := range cases {
		before := len(shop.requests())
		status, body := send(c.method, c.path, c.header)
		reached := len(shop.requests()) > before
		switch {
		case c.allowed && (status != http.StatusOK || !reached):
			t.Errorf("%s %s %v: %d %q (backend reached: %v), want it served", c.method, c.path, c.header, status, body, reached)
		case !c.allowed && (status != http.StatusForbidden || reached):
			t.Errorf("%s %s %v: %d (backend reached: %v), want 403 and no upstream request", c.method, c.path, c.header, status, reached)
		case !c.allowed && c.method != "HEAD" && body != "RBAC: access denied":
			t.Errorf("%s %s: denied with body %q, want Envoy's \"RBAC: access denied\"", c.method, c.path, body)
		}
	}

	// The sidecar takes no gateway role: the policies are not its to enforce.
	if r := m.get("shop.example.com", "/internal", nil); r.status != http.StatusOK {
		t.Errorf("sidecar GET /internal: %d, want 200 (authorization is enforced at the gateway)", r.status)
	}
}
