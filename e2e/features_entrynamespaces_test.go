package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/proxy"
)

// TestFeatureServiceEntryNamespaces: api.stripe.com is declared by a shared public
// ServiceEntry and by team-a's and team-b's own, each exported to its namespace alone ("."):
// a sidecar in team-a reaches team-a's backend, one in team-b team-b's, and one in a third
// namespace the shared one, by the same host name, as Istio's SidecarScope shows each proxy
// the first ServiceEntry its namespace sees (its own private one before a public one).
func TestFeatureServiceEntryNamespaces(t *testing.T) {
	shared, teamA, teamB := startEchoServer(t, "shared"), startEchoServer(t, "team-a"), startEchoServer(t, "team-b")
	entry := func(ns, exportTo string, e *echoServer) string {
		se := strings.Replace(serviceEntry("stripe", "api.stripe.com", e.endpoint("app: stripe")), "metadata: {name: stripe}", "metadata: {name: stripe, namespace: "+ns+"}", 1)
		if exportTo != "" {
			se = strings.Replace(se, "spec:\n", "spec:\n  exportTo: "+exportTo+"\n", 1)
		}
		return se
	}
	m := startMesh(t, map[string]string{
		"policies/shared/stripe.yaml": entry("shared", "", shared),
		"policies/team-a/stripe.yaml": entry("team-a", `["."]`, teamA),
		"policies/team-b/stripe.yaml": entry("team-b", `["."]`, teamB),
	})
	for _, tc := range []struct{ namespace, backend string }{
		{"team-a", "team-a"},
		{"team-b", "team-b"},
		{"team-c", "shared"},
	} {
		at := sidecarWith(t, m, proxy.Options{NodeID: "in-" + tc.namespace, Namespace: tc.namespace})
		if got := at.backendsOf("api.stripe.com", 6); !mapsEqual(got, map[string]int{tc.backend: 6}) {
			t.Errorf("sidecar in %s: api.stripe.com reached %v, want %s alone", tc.namespace, got, tc.backend)
		}
		if r := at.get("api.stripe.com", "/", nil); r.status != http.StatusOK {
			t.Errorf("sidecar in %s: %d", tc.namespace, r.status)
		}
	}
}
