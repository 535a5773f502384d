package e2e

import (
	"fmt"
	"testing"
)

// A match on a port applies only to requests for that port of the service.
func TestFeaturePortMatch(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	ep := func(e *echoServer, version string) string {
		h, p := e.hostPort()
		return fmt.Sprintf("  - {address: %s, ports: {http: %s, alt: %s}, labels: {version: %s}}\n", h, p, p, version)
	}
	m := startMesh(t, map[string]string{
		"policies/web.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 8080, name: alt, protocol: HTTP}
  resolution: STATIC
  endpoints:
` + ep(v1, "v1") + ep(v2, "v2") + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{port: 8080}]
    route: [{destination: {host: web, subset: v2}}]
  - route: [{destination: {host: web, subset: v1}}]
`,
	})
	if r := m.get("web:8080", "/", nil); r.echo.Name != "v2" {
		t.Fatalf("port 8080 went to %q, want v2", r.echo.Name)
	}
	if r := m.get("web", "/", nil); r.echo.Name != "v1" {
		t.Fatalf("port 80 went to %q, want v1", r.echo.Name)
	}
}

// A subset's traffic policy replaces the top-level one: here the top level hashes on a header
// and the "spread" subset goes back to round robin.
func TestFeatureSubsetPolicyOverrides(t *testing.T) {
	a, b, c := startEchoServer(t, "a"), startEchoServer(t, "b"), startEchoServer(t, "c")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			a.endpoint("app: web"), b.endpoint("app: web"), c.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - {name: sticky, labels: {app: web}}
  - name: spread
    labels: {app: web}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{headers: {x-spread: {exact: "yes"}}}]
    route: [{destination: {host: web, subset: spread}}]
  - route: [{destination: {host: web, subset: sticky}}]
`,
	})
	sticky, spread := map[string]int{}, map[string]int{}
	for range 12 {
		sticky[m.get("web", "/", map[string]string{"x-user": "alice"}).echo.Name]++
		spread[m.get("web", "/", map[string]string{"x-user": "alice", "x-spread": "yes"}).echo.Name]++
	}
	if len(sticky) != 1 || len(spread) < 2 {
		t.Fatalf("one user: sticky subset used %v (want one endpoint), spread subset %v (want several)", sticky, spread)
	}
}
