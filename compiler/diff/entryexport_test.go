package diff_test

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler/diff"
	"github.com/signalbox/signalbox/schema"
)

// TestEntryVariants: with a host declared by a shared public ServiceEntry and team-a's own, an
// endpoint of team-a's moving changes team-a's variant of the cluster alone, reported with its
// namespaces; the shared one, which every other namespace sees, is not reported.
func TestEntryVariants(t *testing.T) {
	tree := func(teamA string) []schema.File {
		return []schema.File{{Path: "mesh.yaml", Data: []byte(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stripe, namespace: shared}
spec:
  hosts: [api.stripe.com]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stripe, namespace: team-a}
spec:
  hosts: [api.stripe.com]
  exportTo: ["."]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: ` + teamA + `}]
`)}}
	}
	report, err := diff.Compare(compileFiles(t, tree("10.1.0.1")), compileFiles(t, tree("10.1.0.2")))
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Changes) == 0 {
		t.Fatal("no change reported")
	}
	for _, c := range report.Changes {
		if c.What != diff.Endpoints || c.Cluster != "outbound|80||api.stripe.com (namespaces team-a)" {
			t.Errorf("change %+v, want only the endpoints of team-a's variant", c)
			continue
		}
		if !strings.Contains(c.Before, "10.1.0.1") || !strings.Contains(c.After, "10.1.0.2") {
			t.Errorf("change %+v, want 10.1.0.1 before and 10.1.0.2 after", c)
		}
	}
}
