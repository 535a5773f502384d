package compiler

import (
	"strings"
	"testing"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/schema"
)

// namedRule is a DestinationRule for ratings.mesh; body is the rest of its spec.
func namedRule(name, namespace, body string) string {
	return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ` + name + `, namespace: ` + namespace + `}
spec:
  host: ratings.mesh
` + body
}

// compileFiles compiles ratingsService (in service.yaml) with the given files, so findings
// show which file they point at.
func compileFiles(t *testing.T, files map[string]string) (*Snapshot, []schema.Finding) {
	t.Helper()
	in := []schema.File{{Path: "service.yaml", Data: []byte(ratingsService)}}
	for path, data := range files {
		in = append(in, schema.File{Path: path, Data: []byte(data)})
	}
	tree, findings := schema.Load(in)
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

// findingAt returns the finding at file:line whose message holds text, failing without one.
func findingAt(t *testing.T, findings []schema.Finding, sev schema.Severity, file string, line int, text string) schema.Finding {
	t.Helper()
	for _, f := range findings {
		if f.Severity == sev && f.Pos.File == file && f.Pos.Line == line && strings.Contains(f.Message, text) {
			return f
		}
	}
	t.Fatalf("no %s at %s:%d with %q in %v", sev, file, line, text, findings)
	return schema.Finding{}
}

// TestMergedRulesOneNamespace: two rules for one host in one namespace are merged as Istio's
// mergeDestinationRule merges them, in name order whatever their files: subsets appended, a
// subset name already defined ignored with a warning at it, the top-level trafficPolicy the
// first rule's (the later one's ignored with a warning).
func TestMergedRulesOneNamespace(t *testing.T) {
	// a.yaml sorts first by path, but ratings-canary merges after ratings-base by name.
	s, findings := compileFiles(t, map[string]string{
		"z.yaml": namedRule("ratings-base", "default", `  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  subsets:
  - {name: v1, labels: {version: v1}}
`),
		"a.yaml": namedRule("ratings-canary", "default", `  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  - {name: v1, labels: {version: v2}}
`),
	})
	if s == nil {
		t.Fatalf("compile: %v", findings)
	}
	if len(findings) != 2 {
		t.Errorf("want two warnings, got %v", findings)
	}
	findingAt(t, findings, schema.SeverityWarning, "a.yaml", 11, `subset "v1" of host "ratings.mesh" is already defined by DestinationRule default/ratings-base at z.yaml:1:1`)
	findingAt(t, findings, schema.SeverityWarning, "a.yaml", 6, "DestinationRule default/ratings-base at z.yaml:1:1, merged before this one")

	got, lr := servedClusters(t, s, SidecarRole, "default")
	want := map[string]string{
		"outbound|80||ratings.mesh":   "LEAST_REQUEST",
		"outbound|80|v1|ratings.mesh": "LEAST_REQUEST",
		"outbound|80|v2|ratings.mesh": "ROUND_ROBIN",
	}
	if len(got) != len(want) {
		t.Fatalf("clusters %v, want %v", got, want)
	}
	for name, lb := range want {
		if got[name] != lb {
			t.Errorf("%s is %q, want %q", name, got[name], lb)
		}
	}
	// v1 is the first rule's (version v1), not the ignored one's (version v2).
	for _, res := range lr.Resources[resource.EndpointType] {
		cla := res.(*endpoint.ClusterLoadAssignment)
		var addrs []string
		for _, le := range cla.Endpoints {
			for _, e := range le.LbEndpoints {
				addrs = append(addrs, e.GetEndpoint().Address.GetSocketAddress().Address)
			}
		}
		wantAddr := map[string]string{"outbound|80|v1|ratings.mesh": "10.0.0.1", "outbound|80|v2|ratings.mesh": "10.0.0.2"}[cla.ClusterName]
		if wantAddr != "" && (len(addrs) != 1 || addrs[0] != wantAddr) {
			t.Errorf("%s endpoints %v, want %s", cla.ClusterName, addrs, wantAddr)
		}
	}
	// A lone namespace's merged rule exported everywhere is shared: no variants.
	if lr2, _ := s.Localized(s.Role(SidecarRole), Place{Namespace: "other"}); lr2.Versions[resource.ClusterType] != lr.Versions[resource.ClusterType] {
		t.Errorf("merged rule exported everywhere: namespaces are served different clusters")
	}
}

// TestMergedRulesPositions: a finding about a merged part points at the rule that wrote it,
// and the top-level policy comes from the first rule that has one, even when an earlier rule
// has none.
func TestMergedRulesPositions(t *testing.T) {
	_, findings := compileFiles(t, map[string]string{
		"first.yaml": namedRule("ratings-1", "default", `  subsets:
  - {name: v1, labels: {version: v1}}
`),
		"second.yaml": namedRule("ratings-2", "default", `  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy: {connectionPool: {http: {maxConcurrentStreams: 5}}}
`),
	})
	findingAt(t, findings, schema.SeverityError, "second.yaml", 6, "PASSTHROUGH")
	findingAt(t, findings, schema.SeverityError, "second.yaml", 10, "spec.subsets[0].trafficPolicy.connectionPool.http.maxConcurrentStreams: not supported yet")
	for _, f := range findings {
		if f.Pos.File != "second.yaml" {
			t.Errorf("finding outside the rule that wrote the part: %v", f)
		}
	}
}

// TestMergedRulesExportToDiffers: Istio merges rules of one namespace only when their exportTo
// are the same values as written, and otherwise keeps them apart (a proxy takes one): refused
// at the later rule, also for unset against "*", which Istio does not merge either.
func TestMergedRulesExportToDiffers(t *testing.T) {
	for _, tc := range []struct {
		first, second, path string
		line                int
	}{
		{`  exportTo: ["."]`, `  exportTo: ["*"]`, "spec.exportTo", 6},
		{``, `  exportTo: ["*"]`, "spec.exportTo", 6},
		{`  exportTo: ["*"]`, ``, "spec.host", 5},
		{`  exportTo: ["."]`, `  exportTo: [default]`, "spec.exportTo", 6},
	} {
		s, findings := compileFiles(t, map[string]string{
			"a.yaml": namedRule("ratings-a", "default", tc.first+"\n"),
			"b.yaml": namedRule("ratings-b", "default", tc.second+"\n  subsets: [{name: v2, labels: {version: v2}}]\n"),
		})
		if s != nil {
			t.Errorf("%q then %q: compiled", tc.first, tc.second)
		}
		f := findingAt(t, findings, schema.SeverityError, "b.yaml", tc.line, "Istio merges the rules of one namespace for a host only when their exportTo are the same")
		if f.Path != tc.path || !strings.Contains(f.Message, "DestinationRule default/ratings-a (at a.yaml:1:1)") {
			t.Errorf("%q then %q: finding %v", tc.first, tc.second, f)
		}
	}
	// The same values in another order are the same set: merged.
	s, findings := compileFiles(t, map[string]string{
		"a.yaml": namedRule("ratings-a", "default", "  exportTo: [team-a, \".\"]\n  subsets: [{name: v1, labels: {version: v1}}]\n"),
		"b.yaml": namedRule("ratings-b", "default", "  exportTo: [\".\", team-a]\n  subsets: [{name: v2, labels: {version: v2}}]\n"),
	})
	if s == nil || len(findings) > 0 {
		t.Fatalf("same exportTo: %v", findings)
	}
	got, _ := servedClusters(t, s, SidecarRole, "team-a")
	if _, ok := got["outbound|80|v2|ratings.mesh"]; !ok || len(got) != 3 {
		t.Errorf("team-a: clusters %v, want both rules' subsets", got)
	}
	if got, _ := servedClusters(t, s, SidecarRole, "team-b"); len(got) != 1 {
		t.Errorf("team-b: clusters %v, want the plain one", got)
	}
}

// TestMergedRulesChosenByNamespace: a merged rule is one of a host's variants like a single
// one; a route to a subset it lacks is refused naming both rules.
func TestMergedRulesChosenByNamespace(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: team-b}
spec:
  hosts: [ratings.mesh]
  http:
  - route:
    - destination: {host: ratings.mesh, subset: v3}
`
	s, findings := compileFiles(t, map[string]string{
		"a.yaml":  namedRule("ratings-a", "team-b", "  subsets: [{name: v1, labels: {version: v1}}]\n"),
		"b.yaml":  namedRule("ratings-b", "team-b", "  subsets: [{name: v2, labels: {version: v2}}]\n"),
		"d.yaml":  namedRule("ratings", "default", "  exportTo: [\".\"]\n  subsets: [{name: v3, labels: {version: v2}}]\n"),
		"vs.yaml": vs,
	})
	if s != nil {
		t.Fatal("a route to a subset team-b's merged rule lacks compiled")
	}
	findingAt(t, findings, schema.SeverityError, "vs.yaml", 8, "proxies in team-b see DestinationRules team-b/ratings-a and team-b/ratings-b (merged), which does not define it")
}
