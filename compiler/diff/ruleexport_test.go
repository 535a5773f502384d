package diff_test

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler/diff"
	"github.com/signalbox/signalbox/schema"
)

// TestRuleExportVariants: a change to the DestinationRule one namespace sees changes that
// namespace's variant of the clusters, reported with its namespaces, and nothing else.
func TestRuleExportVariants(t *testing.T) {
	tree := func(teamBLimit string) []schema.File {
		return []schema.File{{Path: "mesh.yaml", Data: []byte(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: team-a}
spec:
  host: ratings.mesh
  exportTo: ["."]
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: team-b}
spec:
  host: ratings.mesh
  exportTo: ["."]
  trafficPolicy: {connectionPool: {http: {http2MaxRequests: ` + teamBLimit + `}}}
`)}}
	}
	report, err := diff.Compare(compileFiles(t, tree("10")), compileFiles(t, tree("20")))
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Changes) != 1 {
		t.Fatalf("changes %+v, want one", report.Changes)
	}
	c := report.Changes[0]
	if c.What != diff.ClusterSettings || !strings.Contains(c.Cluster, "outbound|80||ratings.mesh (namespaces team-b)") {
		t.Errorf("change %+v, want the cluster settings of team-b's variant", c)
	}
}

// TestRuleExportLoneVariantEndpoints: a subset cluster that only the namespace of a narrowed
// DestinationRule has comes in one variant; it keeps its endpoints, so an endpoint moving is
// reported for it (it used to be compared without endpoints, and the move was missed).
func TestRuleExportLoneVariantEndpoints(t *testing.T) {
	tree := func(addr string) []schema.File {
		return []schema.File{{Path: "mesh.yaml", Data: []byte(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: ` + addr + `, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.mesh
  exportTo: ["."]
  subsets: [{name: v1, labels: {version: v1}}]
`)}}
	}
	report, err := diff.Compare(compileFiles(t, tree("10.0.0.1")), compileFiles(t, tree("10.0.0.2")))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range report.Changes {
		if c.What == diff.Endpoints && c.Cluster == "outbound|80|v1|ratings.mesh (namespaces default)" {
			found = true
			if !strings.Contains(c.Before, "10.0.0.1") || !strings.Contains(c.After, "10.0.0.2") {
				t.Errorf("change %+v, want 10.0.0.1 before and 10.0.0.2 after", c)
			}
		}
	}
	if !found {
		t.Errorf("changes %+v: none for the endpoints of the subset's lone variant", report.Changes)
	}
}
