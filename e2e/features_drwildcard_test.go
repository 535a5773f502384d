package e2e

import (
	"net/http"
	"testing"
)

// TestFeatureWildcardDestinationRule: the mesh-wide DestinationRule of Istio's guides, for
// host "*.local" in the root namespace, applies to every cluster-local service no nearer rule
// names: its subsets route and its connection pool (one request per connection) holds. A rule
// for the host itself, in the service's namespace, wins over it for that host.
func TestFeatureWildcardDestinationRule(t *testing.T) {
	rv1, rv2 := startConnCounter(t), startConnCounter(t)
	details := startConnCounter(t)
	m := startMesh(t, map[string]string{
		"policies/reviews.yaml": serviceEntry("reviews", "reviews.default.svc.cluster.local",
			rv1.labelledEndpoint("version: v1"), rv2.labelledEndpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
`,
		"policies/details.yaml": serviceEntry("details", "details.default.svc.cluster.local", details.labelledEndpoint("version: v1")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details}
spec:
  host: details
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 4}}
`,
		"policies/mesh.yaml": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: default, namespace: istio-system}
spec:
  host: "*.local"
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 1}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
	})
	for i := range 4 {
		if r := m.get("reviews.default.svc.cluster.local", "/", nil); r.status != http.StatusOK {
			t.Fatalf("reviews, request %d: %d %s", i, r.status, r.body)
		}
		if r := m.get("details.default.svc.cluster.local", "/", nil); r.status != http.StatusOK {
			t.Fatalf("details, request %d: %d %s", i, r.status, r.body)
		}
	}
	if n, other := rv2.conns.Load(), rv1.conns.Load(); n != 4 || other != 0 {
		t.Errorf("reviews: %d connections to v2 and %d to v1, want 4 and 0 (subset v2 of *.local, one request per connection)", n, other)
	}
	if n := details.conns.Load(); n != 1 {
		t.Errorf("details: 4 requests opened %d connections, want 1 (its own rule, four requests per connection)", n)
	}
}
