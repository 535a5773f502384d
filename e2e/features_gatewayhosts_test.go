package e2e

import (
	"net/http"
	"testing"
)

// A VirtualService for *.example.com at a Gateway server for shop.example.com and
// blog.example.com: Istio binds it (the hosts overlap) and serves it at the server's hosts
// only, and a catch-all VirtualService ("*") bound beside it does not open the port to other
// hosts; at shop.example.com the host's own routes come before the catch-all's.
func TestFeatureGatewayServesHostIntersection(t *testing.T) {
	wild, shop, any := startEchoServer(t, "wild"), startEchoServer(t, "shop"), startEchoServer(t, "any")
	m := startMesh(t, map[string]string{
		"policies/edge.yaml": serviceEntry("wild", "wild.internal", wild.endpoint("app: wild")) + `---
` + serviceEntry("shop", "shop.internal", shop.endpoint("app: shop")) + `---
` + serviceEntry("any", "any.internal", any.endpoint("app: any")) + `---
` + ingressGateway("shop.example.com, blog.example.com") + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild}
spec:
  hosts: ["*.example.com"]
  gateways: [public]
  http:
  - match: [{uri: {prefix: /wild}}]
    route: [{destination: {host: wild.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [public]
  http:
  - match: [{uri: {prefix: /cart}}]
    route: [{destination: {host: shop.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: any}
spec:
  hosts: ["*"]
  gateways: [public]
  http:
  - route: [{destination: {host: any.internal}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	viaGateway := *m
	viaGateway.addr = gw.ListenerAddr("0.0.0.0_80")
	if viaGateway.addr == "" {
		t.Fatal("the gateway has no listener 0.0.0.0_80")
	}
	for _, c := range []struct {
		host, path  string
		status      int
		wantBackend string
	}{
		{"shop.example.com", "/cart", http.StatusOK, "shop"},
		{"shop.example.com", "/wild", http.StatusOK, "wild"},
		{"shop.example.com", "/", http.StatusOK, "any"},
		{"blog.example.com", "/wild", http.StatusOK, "wild"},
		{"blog.example.com", "/cart", http.StatusOK, "any"},
		// Neither the wildcard nor the catch-all widens the server's hosts.
		{"news.example.com", "/wild", http.StatusNotFound, ""},
		{"other.org", "/", http.StatusNotFound, ""},
	} {
		r := viaGateway.get(c.host, c.path, nil)
		if r.status != c.status || r.echo.Name != c.wantBackend {
			t.Errorf("%s%s: %d from %q, want %d from %q", c.host, c.path, r.status, r.echo.Name, c.status, c.wantBackend)
		}
	}
}

// Teams adding their own paths to a shared host at the ingress gateway, each with a
// VirtualService of its own: Istio merges VirtualServices bound to a gateway for one host, and
// so does signalbox, in namespace and name order (a catch-all of team-b comes after team-a's
// /orders).
func TestFeatureGatewayMergesVirtualServices(t *testing.T) {
	orders, users := startEchoServer(t, "orders"), startEchoServer(t, "users")
	m := startMesh(t, map[string]string{
		"policies/edge.yaml": serviceEntry("orders", "orders.internal", orders.endpoint("app: orders")) + `---
` + serviceEntry("users", "users.internal", users.endpoint("app: users")) + `---
` + ingressGateway(`"*/api.example.com"`) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: orders, namespace: team-a}
spec:
  hosts: [api.example.com]
  gateways: [default/public]
  http:
  - match: [{uri: {prefix: /orders}}]
    route: [{destination: {host: orders.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: users, namespace: team-b}
spec:
  hosts: [api.example.com]
  gateways: [default/public]
  http:
  - match: [{uri: {prefix: /users}}]
    route: [{destination: {host: users.internal}}]
  - route: [{destination: {host: users.internal}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	viaGateway := *m
	viaGateway.addr = gw.ListenerAddr("0.0.0.0_80")
	if viaGateway.addr == "" {
		t.Fatal("the gateway has no listener 0.0.0.0_80")
	}
	for path, want := range map[string]string{"/orders/7": "orders", "/users/3": "users", "/": "users"} {
		if r := viaGateway.get("api.example.com", path, nil); r.status != http.StatusOK || r.echo.Name != want {
			t.Errorf("%s: %d from %q, want 200 from %q", path, r.status, r.echo.Name, want)
		}
	}
}
