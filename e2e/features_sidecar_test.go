package e2e

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/proxy"
)

// TestFeatureSidecarEgress: team-a's Sidecar admits only its own namespace's hosts ("./*"),
// so a sidecar in team-a reaches orders (team-a) and gets 404 for payments (team-b), as for
// an unknown host; a workload-selected Sidecar (app=billing) overrides it and admits team-b
// too; a sidecar in team-b, which no Sidecar applies to, sees everything. Each proxy says
// where it runs (--namespace, --label) and the publisher serves it what its Sidecar admits.
func TestFeatureSidecarEgress(t *testing.T) {
	o, p := startEchoServer(t, "orders"), startEchoServer(t, "payments")
	inNamespace := func(doc, ns string) string {
		out := strings.Replace(doc, "}\nspec:\n", ", namespace: "+ns+"}\nspec:\n", 1)
		if out == doc {
			t.Fatalf("serviceEntry changed shape:\n%s", doc)
		}
		return out
	}
	m := startMesh(t, map[string]string{
		"policies/orders.yaml":   inNamespace(serviceEntry("orders", "orders.mesh", o.endpoint("version: v1")), "team-a"),
		"policies/payments.yaml": inNamespace(serviceEntry("payments", "payments.mesh", p.endpoint("version: v1")), "team-b"),
		"policies/sidecars.yaml": `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: team-a}
spec:
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: billing, namespace: team-a}
spec:
  workloadSelector:
    labels: {app: billing}
  egress:
  - hosts: ["./*", "team-b/payments.mesh"]
`,
	})
	for _, tc := range []struct {
		name             string
		opts             proxy.Options
		orders, payments map[string]int
	}{
		{"team-a's Sidecar", proxy.Options{NodeID: "client-a", Labels: map[string]string{"app": "client"}, Namespace: "team-a"},
			map[string]int{"orders": 10}, map[string]int{"404": 10}},
		{"workload-selected Sidecar", proxy.Options{NodeID: "billing-a", Labels: map[string]string{"app": "billing"}, Namespace: "team-a"},
			map[string]int{"orders": 10}, map[string]int{"payments": 10}},
		{"no Sidecar", proxy.Options{NodeID: "client-b", Labels: map[string]string{"app": "client"}, Namespace: "team-b"},
			map[string]int{"orders": 10}, map[string]int{"payments": 10}},
	} {
		at := sidecarWith(t, m, tc.opts)
		if got := at.backendsOf("orders.mesh", 10); !mapsEqual(got, tc.orders) {
			t.Errorf("%s, orders: %v, want %v", tc.name, got, tc.orders)
		}
		if got := at.backendsOf("payments.mesh", 10); !mapsEqual(got, tc.payments) {
			t.Errorf("%s, payments: %v, want %v", tc.name, got, tc.payments)
		}
	}
}
