package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
)

// TestFeatureClusterView: each proxy is sent the clusters of the services it sees, as Istio
// sends them. orders (team-a) is exported to its own namespace only: the sidecar in team-a has
// its cluster and reaches it; the one in team-b has no such cluster at all (its admin
// /config lists none) and answers 404 for the host. A Sidecar committed for team-b then
// shrinks team-b's clusters to its own namespace's, and team-a's proxy keeps its cluster and
// endpoint versions.
func TestFeatureClusterView(t *testing.T) {
	o, p, a := startEchoServer(t, "orders"), startEchoServer(t, "payments"), startEchoServer(t, "audit")
	inNamespace := func(doc, ns, exportTo string) string {
		out := strings.Replace(doc, "}\nspec:\n", ", namespace: "+ns+"}\nspec:\n"+exportTo, 1)
		if out == doc {
			t.Fatalf("serviceEntry changed shape:\n%s", doc)
		}
		return out
	}
	m := startMesh(t, map[string]string{
		"policies/orders.yaml":   inNamespace(serviceEntry("orders", "orders.mesh", o.endpoint("version: v1")), "team-a", "  exportTo: [\".\"]\n"),
		"policies/payments.yaml": inNamespace(serviceEntry("payments", "payments.mesh", p.endpoint("version: v1")), "team-b", ""),
		"policies/audit.yaml":    inNamespace(serviceEntry("audit", "audit.mesh", a.endpoint("version: v1")), "team-c", ""),
	})
	inA := sidecarWith(t, m, proxy.Options{NodeID: "client-a", Namespace: "team-a"})
	inB := sidecarWith(t, m, proxy.Options{NodeID: "client-b", Namespace: "team-b"})

	if got := clustersOf(t, inA.px); !slices.Equal(got, []string{"audit.mesh", "orders.mesh", "payments.mesh"}) {
		t.Errorf("team-a's proxy has clusters of %v, want audit, orders and payments", got)
	}
	if got := clustersOf(t, inB.px); !slices.Equal(got, []string{"audit.mesh", "payments.mesh"}) {
		t.Errorf("team-b's proxy has clusters of %v, want audit and payments (orders is not exported to team-b)", got)
	}
	if got := inA.backendsOf("orders.mesh", 5); !mapsEqual(got, map[string]int{"orders": 5}) {
		t.Errorf("team-a, orders: %v, want orders", got)
	}
	if got := inB.backendsOf("orders.mesh", 5); !mapsEqual(got, map[string]int{"404": 5}) {
		t.Errorf("team-b, orders: %v, want 404", got)
	}

	before := inA.px.Versions()
	if err := m.repo.WriteFile("policies/sidecar.yaml", []byte(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: team-b}
spec:
  egress:
  - hosts: ["./*"]
`)); err != nil {
		t.Fatal(err)
	}
	sha, err := m.repo.(interface{ Commit(string) (string, error) }).Commit("team-b: a Sidecar")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.pub.Sync(m.ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"client-a", "client-b"} {
		if _, err := demo.AwaitSync(m.ctx, m.pub, sha, id); err != nil {
			t.Fatalf("%s never applied the Sidecar: %v", id, err)
		}
	}
	if got := clustersOf(t, inB.px); !slices.Equal(got, []string{"payments.mesh"}) {
		t.Errorf("team-b's proxy under its Sidecar has clusters of %v, want payments only", got)
	}
	if got := inB.backendsOf("audit.mesh", 5); !mapsEqual(got, map[string]int{"404": 5}) {
		t.Errorf("team-b under its Sidecar, audit: %v, want 404", got)
	}
	after := inA.px.Versions()
	for _, typ := range []string{resource.ClusterType, resource.EndpointType} {
		if before[typ] != after[typ] {
			t.Errorf("team-a's %s version changed with team-b's Sidecar: %s, then %s", typ, before[typ], after[typ])
		}
	}
	if got := inA.backendsOf("audit.mesh", 5); !mapsEqual(got, map[string]int{"audit": 5}) {
		t.Errorf("team-a, audit: %v, want audit", got)
	}
}

// clustersOf is the hosts of the clusters a proxy holds, as its admin /config lists them.
func clustersOf(t *testing.T, px *proxy.Proxy) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	px.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/config", nil))
	var dump proxy.ConfigDump
	if err := json.Unmarshal(rec.Body.Bytes(), &dump); err != nil {
		t.Fatalf("GET /config: %v", err)
	}
	var out []string
	for _, c := range dump.Clusters {
		host := c.Name[strings.LastIndex(c.Name, "|")+1:]
		if !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	slices.Sort(out)
	return out
}
