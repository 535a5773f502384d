package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGRPCClientDestinationRuleExportTo: a DestinationRule exported to team-a alone sends a
// proxyless grpc-go client in team-a (its bootstrap's NAMESPACE node metadata) to the
// locality it distributes to, while a client in team-b, which sees no DestinationRule, is
// served the plain cluster and reaches both workloads.
func TestGRPCClientDestinationRuleExportTo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	east, west := startEcho(t, "east", 0), startEcho(t, "west", 0)
	files := localityEcho(east, west, `    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us-east/*
          to: {"us-west/*": 100}
`)
	files["policies/echo.yaml"] = replaceOnce(t, files["policies/echo.yaml"],
		"kind: DestinationRule\nmetadata: {name: echo}\nspec:\n  host: echo\n",
		"kind: DestinationRule\nmetadata: {name: echo, namespace: team-a}\nspec:\n  host: echo.default.svc.cluster.local\n  exportTo: [\".\"]\n")
	_, pub := publishTree(t, ctx, files)
	inA := xdsTestClient(t, pub, `{"id": "grpc-team-a", "locality": {"region": "us-east", "zone": "zone-b"}, "metadata": {"NAMESPACE": "team-a"}}`,
		"xds:///echo.default.svc.cluster.local:7070")
	if got := callCounts(t, ctx, inA, 20); got["west"] != 20 {
		t.Errorf("client in team-a: %v, want all 20 on west (its namespace's DestinationRule)", got)
	}
	inB := xdsTestClient(t, pub, `{"id": "grpc-team-b", "locality": {"region": "us-east", "zone": "zone-b"}, "metadata": {"NAMESPACE": "team-b"}}`,
		"xds:///echo.default.svc.cluster.local:7070")
	deadline := time.Now().Add(10 * time.Second)
	seen := map[string]int{}
	for seen["east"] == 0 || seen["west"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("client in team-b: %v after 10s, want both workloads (no DestinationRule)", seen)
		}
		for k, v := range callCounts(t, ctx, inB, 1) {
			seen[k] += v
		}
	}
}

// replaceOnce replaces old in s once, failing the test if s does not hold it.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("%q not found in:\n%s", old, s)
	}
	return s[:i] + new + s[i+len(old):]
}
