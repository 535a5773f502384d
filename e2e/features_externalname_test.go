package e2e

import (
	"fmt"
	"testing"
)

// An ExternalName Service naming a Service of the tree is an alias of it, as Istio treats it by
// default: a request for the alias host, on any port of the target, takes the target's routes
// (here a VirtualService that sends x-canary requests to v2) to the target's endpoints, and
// the alias needs no ports of its own.
func TestFeatureExternalNameAlias(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	workload := func(name, version string, e *echoServer) string {
		h, p := e.hostPort()
		return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: %s}
spec:
  address: %s
  ports: {http: %s}
  labels: {app: reviews, version: %s}
`, name, h, p, version)
	}
	m := startMesh(t, map[string]string{
		"policies/reviews.yaml": `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  ports: [{port: 9080, name: http}]
  selector: {app: reviews}
` + workload("reviews-v1", "v1", v1) + workload("reviews-v2", "v2", v2) + `---
apiVersion: v1
kind: Service
metadata: {name: reviews-legacy}
spec:
  type: ExternalName
  externalName: reviews.default.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-canary: {exact: "1"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`,
	})
	for _, host := range []string{"reviews-legacy:9080", "reviews-legacy.default.svc.cluster.local:9080", "reviews-legacy"} {
		if r := m.get(host, "/", nil); r.status != 200 || r.echo.Name != "v1" {
			t.Fatalf("%s: status %d from %q, want 200 from v1 (the target's default route)", host, r.status, r.echo.Name)
		}
		if r := m.get(host, "/", map[string]string{"x-canary": "1"}); r.status != 200 || r.echo.Name != "v2" {
			t.Fatalf("%s with x-canary: status %d from %q, want 200 from v2 (the target's canary route)", host, r.status, r.echo.Name)
		}
	}
	// A port the target does not have is no port of the alias either: unknown, 404.
	if r := m.get("reviews-legacy:9999", "/", nil); r.status != 404 {
		t.Fatalf("reviews-legacy:9999: status %d, want 404", r.status)
	}
}
