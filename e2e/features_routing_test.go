package e2e

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func routingMesh(v1, v2, shadow *echoServer) map[string]string {
	return map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			v1.endpoint("version: v1"), v2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
` + serviceEntry("shadow", "shadow.default.svc.cluster.local", shadow.endpoint("app: shadow")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - name: redirect
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: www.example.com, scheme: https, redirectCode: 307}
  - name: direct
    match: [{uri: {exact: /tea}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: rewrite
    match: [{uri: {prefix: /v1/api}}]
    rewrite: {uri: /api, authority: backend.internal}
    route: [{destination: {host: web, subset: v1}}]
  - name: regex-rewrite
    match: [{uri: {prefix: /users/}}]
    rewrite: {uriRegexRewrite: {match: "^/users/([^/]+)$", rewrite: '/u/\1'}}
    route: [{destination: {host: web, subset: v1}}]
  - name: headers
    match: [{uri: {prefix: /headers}}]
    headers:
      request: {set: {x-route: headers}, add: {x-added: "yes"}, remove: [x-secret]}
      response: {set: {cache-control: no-store}, remove: [x-backend-internal]}
    route: [{destination: {host: web, subset: v1}}]
  - name: cors
    match: [{uri: {prefix: /public}}]
    corsPolicy:
      allowOrigins: [{exact: "https://example.com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      maxAge: 1h
    route: [{destination: {host: web, subset: v1}}]
  - name: mirror
    match: [{uri: {prefix: /mirror}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 100}
    route: [{destination: {host: web, subset: v1}}]
  - name: split
    route:
    - destination: {host: web, subset: v1}
      weight: 70
      headers: {request: {set: {x-picked: v1}}, response: {set: {x-split: v1}}}
    - destination: {host: web, subset: v2}
      weight: 30
      headers: {request: {set: {x-picked: v2}}, response: {set: {x-split: v2}}}
`,
	}
}

func TestFeatureRouting(t *testing.T) {
	v1, v2, shadow := startEchoServer(t, "v1"), startEchoServer(t, "v2"), startEchoServer(t, "shadow")
	v1.setBehave(func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("X-Backend-Internal", "leak")
		return false
	})
	m := startMesh(t, routingMesh(v1, v2, shadow))

	t.Run("redirect", func(t *testing.T) {
		r := m.get("web", "/old/page", nil)
		if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != "https://www.example.com/new" {
			t.Fatalf("status %d Location %q, want 307 to https://www.example.com/new", r.status, r.header.Get("Location"))
		}
	})
	t.Run("direct response", func(t *testing.T) {
		r := m.get("web", "/tea", nil)
		if r.status != http.StatusTeapot || r.body != "short and stout" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
	})
	t.Run("rewrite prefix and authority", func(t *testing.T) {
		r := m.get("web", "/v1/api/items?x=1", nil)
		if r.echo.Path != "/api/items" || r.echo.Host != "backend.internal" || r.echo.Query != "x=1" {
			t.Fatalf("backend saw %s%s?%s, want backend.internal/api/items?x=1", r.echo.Host, r.echo.Path, r.echo.Query)
		}
	})
	t.Run("regex rewrite", func(t *testing.T) {
		if r := m.get("web", "/users/alice", nil); r.echo.Path != "/u/alice" {
			t.Fatalf("backend saw %q, want /u/alice", r.echo.Path)
		}
	})
	t.Run("header operations", func(t *testing.T) {
		r := m.get("web", "/headers", map[string]string{"x-route": "client", "x-secret": "s", "x-added": "client"})
		h := r.echo.Headers
		if h.Get("X-Route") != "headers" || h.Get("X-Secret") != "" || strings.Join(h.Values("X-Added"), ",") != "client,yes" {
			t.Fatalf("backend saw x-route %q x-secret %q x-added %q", h.Get("X-Route"), h.Get("X-Secret"), h.Values("X-Added"))
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Backend-Internal") != "" {
			t.Fatalf("response cache-control %q x-backend-internal %q", r.header.Get("Cache-Control"), r.header.Get("X-Backend-Internal"))
		}
	})
	t.Run("cors preflight", func(t *testing.T) {
		r := m.do(http.MethodOptions, "web", "/public", map[string]string{
			"Origin": "https://example.com", "Access-Control-Request-Method": "POST"})
		if r.header.Get("Access-Control-Allow-Origin") != "https://example.com" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
			r.header.Get("Access-Control-Max-Age") != "3600" {
			t.Fatalf("preflight answered %d with %v", r.status, r.header)
		}
		if r := m.get("web", "/public", map[string]string{"Origin": "https://evil.example"}); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("an origin not allowed got Access-Control-Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("mirror", func(t *testing.T) {
		r := m.get("web", "/mirror", nil)
		if r.echo.Name != "v1" {
			t.Fatalf("mirrored request answered by %q, want v1", r.echo.Name)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(shadow.requests()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		got := shadow.requests()
		if len(got) == 0 || got[0].Host != "web-shadow" || got[0].Path != "/mirror" {
			t.Fatalf("shadow saw %+v, want /mirror with Host web-shadow", got)
		}
	})
	t.Run("weighted split with per-destination headers", func(t *testing.T) {
		const n = 400
		counts := map[string]int{}
		for range n {
			r := m.get("web", "/", nil)
			if r.echo.Headers.Get("X-Picked") != r.echo.Name || r.header.Get("X-Split") != r.echo.Name {
				t.Fatalf("%s saw x-picked %q and answered x-split %q", r.echo.Name, r.echo.Headers.Get("X-Picked"), r.header.Get("X-Split"))
			}
			counts[r.echo.Name]++
		}
		if share := float64(counts["v1"]) / n; math.Abs(share-0.7) > 0.08 || counts["v1"]+counts["v2"] != n {
			t.Fatalf("want 70±8%% on v1, got %v", counts)
		}
	})
}

// A rule that delegates takes the delegate VirtualService's rules, narrowed by its match and
// inheriting its settings, as Istio merges them.
func TestFeatureDelegate(t *testing.T) {
	front, cart := startEchoServer(t, "front"), startEchoServer(t, "cart")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": serviceEntry("shop", "shop.example.com", front.endpoint("app: front")) + "---\n" +
			serviceEntry("cart", "cart.default.svc.cluster.local", cart.endpoint("app: cart")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root}
spec:
  hosts: [shop.example.com]
  http:
  - match: [{uri: {prefix: /cart}}]
    headers: {request: {set: {x-via: root}}}
    delegate: {name: cart-routes}
  - route: [{destination: {host: shop.example.com}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart-routes}
spec:
  http:
  - match: [{uri: {prefix: /cart/checkout}}]
    rewrite: {uri: /checkout}
    route: [{destination: {host: cart}}]
  - match: [{uri: {prefix: /orders}}]
    route: [{destination: {host: cart}}]
  - route: [{destination: {host: cart}}]
`,
	})
	if r := m.get("shop.example.com", "/cart/checkout/now", nil); r.echo.Name != "cart" || r.echo.Path != "/checkout/now" || r.echo.Headers.Get("X-Via") != "root" {
		t.Fatalf("delegated rule: %s saw %s (x-via %q)", r.echo.Name, r.echo.Path, r.echo.Headers.Get("X-Via"))
	}
	if r := m.get("shop.example.com", "/cart", nil); r.echo.Name != "cart" {
		t.Fatalf("delegate catch-all under /cart went to %q", r.echo.Name)
	}
	// The delegate's /orders lies outside the root's /cart: it never matches.
	if r := m.get("shop.example.com", "/orders", nil); r.echo.Name != "front" {
		t.Fatalf("/orders went to %q, want front", r.echo.Name)
	}
}
