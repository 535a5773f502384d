package compiler

import (
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
)

// ratingsService is a service in default with two versions, for the DestinationRule exportTo
// cases below.
const ratingsService = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, labels: {version: v2}}
`

func drDoc(namespace, exportTo, policy string, subsets ...string) string {
	out := `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: ` + namespace + `}
spec:
  host: ratings.mesh
  exportTo: ` + exportTo + `
  trafficPolicy: ` + policy + `
`
	if len(subsets) > 0 {
		out += "  subsets:\n"
		for _, s := range subsets {
			out += "  - {name: " + s + ", labels: {version: " + s + "}}\n"
		}
	}
	return out
}

func compileRules(t *testing.T, src string) (*Snapshot, []schema.Finding) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(ratingsService + src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

// servedClusters are the clusters of a role as a proxy in ns is served them, by name, with
// their load balancer; it fails on a name served twice or a cluster still tagged.
func servedClusters(t *testing.T, s *Snapshot, role, ns string) (map[string]string, *Role) {
	t.Helper()
	lr, err := s.Localized(s.Role(role), Place{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, res := range lr.Resources[resource.ClusterType] {
		c := res.(*cluster.Cluster)
		if _, dup := out[c.Name]; dup {
			t.Fatalf("namespace %q: cluster %s served twice", ns, c.Name)
		}
		if xds.HasScope(c) {
			t.Fatalf("namespace %q: cluster %s served with its namespaces", ns, c.Name)
		}
		out[c.Name] = c.LbPolicy.String()
	}
	return out, lr
}

// TestRuleExportLookup: a proxy takes its namespace's rule, else the service namespace's
// exported to it, else the root namespace's exported to it, else none (Istio's
// PushContext.destinationRule); subset clusters exist only where their rule is seen, and the
// endpoints follow the clusters.
func TestRuleExportLookup(t *testing.T) {
	s, findings := compileRules(t,
		drDoc("default", `[".", team-a]`, `{loadBalancer: {simple: RANDOM}}`, "v1", "v2")+
			drDoc("team-b", `["."]`, `{loadBalancer: {simple: LEAST_REQUEST}}`, "v1")+
			drDoc("istio-system", `[team-c, team-b]`, `{loadBalancer: {simple: ROUND_ROBIN}}`, "v2"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	for _, tc := range []struct {
		ns   string
		want map[string]string
	}{
		{"default", map[string]string{"outbound|80||ratings.mesh": "RANDOM", "outbound|80|v1|ratings.mesh": "RANDOM", "outbound|80|v2|ratings.mesh": "RANDOM"}},
		{"team-a", map[string]string{"outbound|80||ratings.mesh": "RANDOM", "outbound|80|v1|ratings.mesh": "RANDOM", "outbound|80|v2|ratings.mesh": "RANDOM"}},
		{"team-b", map[string]string{"outbound|80||ratings.mesh": "LEAST_REQUEST", "outbound|80|v1|ratings.mesh": "LEAST_REQUEST"}},
		{"team-c", map[string]string{"outbound|80||ratings.mesh": "ROUND_ROBIN", "outbound|80|v2|ratings.mesh": "ROUND_ROBIN"}},
		{"istio-system", map[string]string{"outbound|80||ratings.mesh": "ROUND_ROBIN", "outbound|80|v2|ratings.mesh": "ROUND_ROBIN"}},
		{"other", map[string]string{"outbound|80||ratings.mesh": "ROUND_ROBIN"}},
		{"", map[string]string{"outbound|80||ratings.mesh": "ROUND_ROBIN"}},
	} {
		for _, role := range []string{SidecarRole, GRPCRole} {
			got, lr := servedClusters(t, s, role, tc.ns)
			if len(got) != len(tc.want) {
				t.Errorf("%s in %q: clusters %v, want %v", role, tc.ns, got, tc.want)
				continue
			}
			for name, lb := range tc.want {
				if got[name] != lb {
					t.Errorf("%s in %q: %s is %q, want %q", role, tc.ns, name, got[name], lb)
				}
			}
			var eds []string
			for _, res := range lr.Resources[resource.EndpointType] {
				eds = append(eds, res.(*endpoint.ClusterLoadAssignment).ClusterName)
			}
			if len(eds) != len(tc.want) {
				t.Errorf("%s in %q: endpoints of %v, want one per cluster %v", role, tc.ns, eds, tc.want)
			}
			lr2, _ := s.Localized(s.Role(role), Place{Namespace: tc.ns})
			if lr2.Versions[resource.ClusterType] != lr.Versions[resource.ClusterType] {
				t.Errorf("%s in %q: cluster version not stable", role, tc.ns)
			}
		}
	}
	// Namespaces served the same clusters get the same version; others another.
	_, a := servedClusters(t, s, SidecarRole, "default")
	_, b := servedClusters(t, s, SidecarRole, "team-a")
	_, c := servedClusters(t, s, SidecarRole, "team-b")
	if a.Versions[resource.ClusterType] != b.Versions[resource.ClusterType] || a.Versions[resource.ClusterType] == c.Versions[resource.ClusterType] {
		t.Errorf("cluster versions: default %s, team-a %s, team-b %s: want the first two equal, the third different",
			a.Versions[resource.ClusterType], b.Versions[resource.ClusterType], c.Versions[resource.ClusterType])
	}
}

// TestRuleExportEverywhereUnchanged: a lone rule exported everywhere keeps the clusters as
// compiled, shared by every proxy (no variant, nothing chosen per place).
func TestRuleExportEverywhereUnchanged(t *testing.T) {
	s, findings := compileRules(t, drDoc("default", `["*"]`, `{loadBalancer: {simple: RANDOM}}`, "v1"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	r := s.Role(SidecarRole)
	for _, ns := range []string{"default", "other", ""} {
		lr, err := s.Localized(r, Place{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		if lr != r {
			t.Errorf("namespace %q: a role without cluster variants should be served as compiled", ns)
		}
	}
}

// TestRuleExportSubsetErrors: a route to a subset is an error where the rule its proxies see
// does not define it, at destination.subset; a route only where the subset exists is not.
func TestRuleExportSubsetErrors(t *testing.T) {
	rules := drDoc("default", `["."]`, `{loadBalancer: {simple: RANDOM}}`, "v1", "v2") +
		drDoc("team-b", `["."]`, `{loadBalancer: {simple: RANDOM}}`, "v1")
	vs := func(ns, exportTo, subset string) string {
		return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: ` + ns + `}
spec:
  hosts: [ratings.mesh]
  exportTo: ` + exportTo + `
  http:
  - route: [{destination: {host: ratings.mesh, subset: ` + subset + `}}]
`
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"everywhere", vs("default", `["*"]`, "v1"), "proxies in every namespace but default, team-b see no DestinationRule"},
		{"team-b lacks v2", vs("team-b", `[".", default]`, "v2"), "proxies in team-b see DestinationRule team-b/ratings, which does not define it"},
		{"defined where applied", vs("team-b", `[".", default]`, "v1"), ""},
		{"own namespace only", vs("default", `["."]`, "v2"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, findings := compileRules(t, rules+tc.src)
			if tc.want == "" {
				if s == nil || len(findings) > 0 {
					t.Fatalf("compile: %v", findings)
				}
				return
			}
			if s != nil || len(findings) != 1 {
				t.Fatalf("want one error, got %v", findings)
			}
			f := findings[0].String()
			if !strings.Contains(f, "spec.http[0].route[0].destination.subset:") || !strings.Contains(f, tc.want) {
				t.Errorf("finding %s\nwant it at destination.subset, saying %q", f, tc.want)
			}
		})
	}
}

// TestRuleExportSnapshotFile: a snapshot read back from its file serves each namespace the
// same cluster variants and endpoints, with the same versions.
func TestRuleExportSnapshotFile(t *testing.T) {
	s, findings := compileRules(t, drDoc("default", `["."]`, `{loadBalancer: {simple: RANDOM}}`, "v1"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"default", "other"} {
		for _, role := range []string{SidecarRole, GRPCRole} {
			a, err := s.Localized(s.Role(role), Place{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			b, err := back.Localized(back.Role(role), Place{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range []resource.Type{resource.ClusterType, resource.EndpointType} {
				if a.Versions[typ] != b.Versions[typ] || len(a.Resources[typ]) != len(b.Resources[typ]) {
					t.Errorf("%s in %q, %s: %s (%d) compiled, %s (%d) read back", role, ns, typ,
						a.Versions[typ], len(a.Resources[typ]), b.Versions[typ], len(b.Resources[typ]))
				}
			}
		}
	}
}

// TestRuleInThirdNamespace: a rule exported everywhere from a namespace that is neither the
// service's nor the root namespace applies to that namespace's proxies only, as Istio's
// PushContext.destinationRule looks in the proxy's, the service's and the root namespace
// alone; a route elsewhere to one of its subsets is refused where it applies.
func TestRuleInThirdNamespace(t *testing.T) {
	s, findings := compileRules(t, drDoc("team-a", `["*"]`, `{loadBalancer: {simple: RANDOM}}`, "v1"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	for ns, want := range map[string]map[string]string{
		"team-a":  {"outbound|80||ratings.mesh": "RANDOM", "outbound|80|v1|ratings.mesh": "RANDOM"},
		"default": {"outbound|80||ratings.mesh": "ROUND_ROBIN"},
		"":        {"outbound|80||ratings.mesh": "ROUND_ROBIN"},
	} {
		got, _ := servedClusters(t, s, SidecarRole, ns)
		if len(got) != len(want) {
			t.Errorf("in %q: clusters %v, want %v", ns, got, want)
		}
		for name, lb := range want {
			if got[name] != lb {
				t.Errorf("in %q: %s is %q, want %q", ns, name, got[name], lb)
			}
		}
	}
	_, findings = compileRules(t, drDoc("team-a", `["*"]`, `{loadBalancer: {simple: RANDOM}}`, "v1")+`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  http:
  - route: [{destination: {host: ratings.mesh, subset: v1}}]
`)
	if !schema.HasErrors(findings) || !strings.Contains(findings[0].String(), "spec.http[0].route[0].destination.subset") {
		t.Errorf("a route in default to team-a's subset: findings %v, want an error at its subset", findings)
	}
}
