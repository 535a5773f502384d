package e2e

import (
	"net/http"
	"testing"

	"github.com/signalbox/signalbox/proxy"
)

// TestFeatureDestinationRuleExportTo: team-a's DestinationRules, exported to team-a alone
// ("."), give a sidecar in team-a their subsets and connection pool, while a sidecar in team-b,
// which sees no DestinationRule for those hosts, is served the plain clusters, as Istio
// chooses each proxy's DestinationRule by its namespace.
func TestFeatureDestinationRuleExportTo(t *testing.T) {
	v1, v2 := startEchoServer(t, "details-v1"), startEchoServer(t, "details-v2")
	pooled := startConnCounter(t)
	m := startMesh(t, map[string]string{
		"policies/details.yaml": serviceEntry("details", "details.mesh", v1.endpoint("version: v1"), v2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: team-a}
spec:
  host: details.mesh
  exportTo: ["."]
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: team-a}
spec:
  hosts: [details.mesh]
  exportTo: ["."]
  http:
  - route:
    - destination: {host: details.mesh, subset: v1}
`,
		"policies/pooled.yaml": serviceEntry("pooled", "pooled.mesh", pooled.endpoint()) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pooled, namespace: team-a}
spec:
  host: pooled.mesh
  exportTo: ["."]
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 1}}
`,
	})
	for _, tc := range []struct {
		namespace string
		details   map[string]int
		conns     int64
	}{
		// team-a: the subset cluster; one connection per request.
		{"team-a", map[string]int{"details-v1": 10}, 4},
		// team-b: no subset, default route over both; one kept-alive connection.
		{"team-b", map[string]int{"details-v1": 5, "details-v2": 5}, 1},
	} {
		at := sidecarWith(t, m, proxy.Options{NodeID: "in-" + tc.namespace, Labels: map[string]string{"app": "client"}, Namespace: tc.namespace})
		if got := at.backendsOf("details.mesh", 10); !mapsEqual(got, tc.details) {
			t.Errorf("sidecar in %s, details: %v, want %v", tc.namespace, got, tc.details)
		}
		before := pooled.conns.Load()
		for i := range 4 {
			if r := at.get("pooled.mesh", "/", nil); r.status != http.StatusOK {
				t.Fatalf("sidecar in %s, pooled request %d: %d", tc.namespace, i, r.status)
			}
		}
		if n := pooled.conns.Load() - before; n != tc.conns {
			t.Errorf("sidecar in %s: 4 requests to pooled.mesh opened %d connections, want %d", tc.namespace, n, tc.conns)
		}
	}
}
