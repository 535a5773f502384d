package compiler

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/schema"
)

// apiEntry is a ServiceEntry for api.stripe.com in namespace ns, exported as exportTo says
// ("" for none), with one endpoint and the given ports.
func apiEntry(ns, exportTo, address string, ports ...int) string {
	if len(ports) == 0 {
		ports = []int{80}
	}
	var ps []string
	for _, p := range ports {
		ps = append(ps, fmt.Sprintf("{number: %d, name: http-%d, protocol: HTTP}", p, p))
	}
	out := "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: stripe, namespace: " + ns + "}\nspec:\n  hosts: [api.stripe.com]\n  resolution: STATIC\n"
	if exportTo != "" {
		out += "  exportTo: " + exportTo + "\n"
	}
	return out + "  ports: [" + strings.Join(ps, ", ") + "]\n  endpoints: [{address: " + address + "}]\n"
}

func compileEntries(t *testing.T, src string) (*Snapshot, []schema.Finding) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

// servedEndpoints are the endpoint addresses a proxy in ns is served, by cluster name.
func servedEndpoints(t *testing.T, s *Snapshot, role, ns string) map[string][]string {
	t.Helper()
	servedClusters(t, s, role, ns) // fails on a cluster served twice or still tagged
	lr, err := s.Localized(s.Role(role), Place{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, res := range lr.Resources[resource.EndpointType] {
		cla := res.(*endpoint.ClusterLoadAssignment)
		if _, dup := out[cla.ClusterName]; dup {
			t.Fatalf("namespace %q: endpoints of %s served twice", ns, cla.ClusterName)
		}
		out[cla.ClusterName] = []string{}
		for _, l := range cla.Endpoints {
			for _, e := range l.LbEndpoints {
				out[cla.ClusterName] = append(out[cla.ClusterName], e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
	}
	return out
}

func wantServed(t *testing.T, s *Snapshot, ns string, want map[string]string) {
	t.Helper()
	for _, role := range []string{SidecarRole, GRPCRole} {
		got := servedEndpoints(t, s, role, ns)
		if len(got) != len(want) {
			t.Errorf("%s in %q: served %v, want %v", role, ns, got, want)
			continue
		}
		for name, addr := range want {
			if !slices.Equal(got[name], []string{addr}) {
				t.Errorf("%s in %q: %s has endpoints %v, want [%s]", role, ns, name, got[name], addr)
			}
		}
	}
}

const stripe80 = "outbound|80||api.stripe.com"

// TestEntryPrecedence: a proxy sees its namespace's private entry first, then one exported to
// its namespace by name, then a public one; a namespace no entry names and a proxy without
// a namespace see the public one (Istio's servicesExportedToNamespace, first one kept).
func TestEntryPrecedence(t *testing.T) {
	s, findings := compileEntries(t,
		apiEntry("shared", "", "10.0.0.1")+
			apiEntry("team-a", `["."]`, "10.0.0.2")+
			apiEntry("team-b", `[team-c]`, "10.0.0.3"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	for ns, addr := range map[string]string{
		"team-a": "10.0.0.2", // its own, private
		"team-c": "10.0.0.3", // team-b's, exported to it by name
		"team-b": "10.0.0.1", // team-b's own is not exported to team-b: the public one
		"shared": "10.0.0.1",
		"other":  "10.0.0.1",
		"":       "10.0.0.1",
	} {
		wantServed(t, s, ns, map[string]string{stripe80: addr})
	}
}

// TestEntryPublicOrder: of two public entries every proxy sees the first by namespace (Istio:
// the oldest, then by namespace), even in the later one's own namespace; the later one is
// seen nowhere, with a warning.
func TestEntryPublicOrder(t *testing.T) {
	s, findings := compileEntries(t, apiEntry("team-z", "", "10.0.0.9")+apiEntry("team-a", `["*"]`, "10.0.0.1"))
	if s == nil || len(findings) != 1 || findings[0].Severity != schema.SeverityWarning ||
		!strings.Contains(findings[0].Message, "no proxy sees this ServiceEntry") || !strings.Contains(findings[0].Message, "team-a/stripe") {
		t.Fatalf("want one warning at team-z's entry, got %v", findings)
	}
	if !strings.Contains(findings[0].Pos.String(), "mesh.yaml") {
		t.Errorf("warning not positioned: %v", findings[0])
	}
	for _, ns := range []string{"team-a", "team-z", "other", ""} {
		wantServed(t, s, ns, map[string]string{stripe80: "10.0.0.1"})
	}
}

// TestEntryExportedByNameOrder: two entries exported to one namespace by name: it sees the
// first by namespace; each other namespace named sees the one exported to it.
func TestEntryExportedByNameOrder(t *testing.T) {
	s, findings := compileEntries(t, apiEntry("team-b", `[team-c, team-d]`, "10.0.0.2")+apiEntry("team-a", `[team-c]`, "10.0.0.1"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	wantServed(t, s, "team-c", map[string]string{stripe80: "10.0.0.1"})
	wantServed(t, s, "team-d", map[string]string{stripe80: "10.0.0.2"})
	// Neither is exported to team-a itself, nor anywhere else.
	for _, ns := range []string{"team-a", "team-b", "other", ""} {
		wantServed(t, s, ns, map[string]string{})
	}
}

// TestEntrySameNamespace: two ServiceEntries of one namespace for a host stay an error at the
// second's host.
func TestEntrySameNamespace(t *testing.T) {
	_, findings := compileEntries(t, apiEntry("team-a", "", "10.0.0.1")+
		strings.Replace(apiEntry("team-a", "", "10.0.0.2"), "name: stripe", "name: stripe-2", 1))
	if !schema.HasErrors(findings) || !strings.Contains(findings[0].Message, "spec.hosts[0]") || !strings.Contains(findings[0].Message, "same namespace") {
		t.Fatalf("want an error at the second entry's host, got %v", findings)
	}
}

// TestEntryRules: a proxy takes the DestinationRule of the namespace of the entry it sees
// (after its own namespace's): the shared entry's rule and its subset apply where the shared
// entry is seen, not to team-a, whose own entry has none; a route to that subset applying on
// every sidecar is an error at its subset.
func TestEntryRules(t *testing.T) {
	rule := `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: stripe, namespace: shared}
spec:
  host: api.stripe.com
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: v1, labels: {}}]
`
	s, findings := compileEntries(t, apiEntry("shared", "", "10.0.0.1")+apiEntry("team-a", `["."]`, "10.0.0.2")+rule)
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	got, _ := servedClusters(t, s, SidecarRole, "other")
	if got[stripe80] != "RANDOM" || got["outbound|80|v1|api.stripe.com"] != "RANDOM" || len(got) != 2 {
		t.Errorf("other namespace: %v, want the shared rule's clusters", got)
	}
	got, _ = servedClusters(t, s, SidecarRole, "team-a")
	if got[stripe80] != "ROUND_ROBIN" || len(got) != 1 {
		t.Errorf("team-a: %v, want its own entry's plain cluster", got)
	}
	wantServed(t, s, "team-a", map[string]string{stripe80: "10.0.0.2"})

	vs := `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: stripe, namespace: shared}
spec:
  hosts: [api.stripe.com]
  http: [{route: [{destination: {host: api.stripe.com, subset: v1}}]}]
`
	_, findings = compileEntries(t, apiEntry("shared", "", "10.0.0.1")+apiEntry("team-a", `["."]`, "10.0.0.2")+rule+vs)
	if !schema.HasErrors(findings) || !strings.Contains(findings[0].Message, "destination.subset") || !strings.Contains(findings[0].Message, "team-a") {
		t.Fatalf("want an error at the subset naming team-a, got %v", findings)
	}
}

// TestEntryRoutePort: a route to a port only team-a's entry has, applying on every sidecar,
// is an error at its destination naming the namespaces whose entry lacks it; limited to
// team-a by sourceNamespace it compiles, and team-a's proxies are served that cluster.
func TestEntryRoutePort(t *testing.T) {
	vs := func(match string) string {
		return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: stripe, namespace: team-a}
spec:
  hosts: [api.stripe.com]
  http: [{` + match + `route: [{destination: {host: api.stripe.com, port: {number: 8443}}}]}]
`
	}
	entries := apiEntry("shared", `[team-b]`, "10.0.0.1", 80) + apiEntry("team-a", `["."]`, "10.0.0.2", 80, 8443)
	_, findings := compileEntries(t, entries+vs(""))
	if !schema.HasErrors(findings) || !strings.Contains(findings[0].Message, "destination.host") ||
		!strings.Contains(findings[0].Message, "team-b see ServiceEntry shared/stripe, which has no port 8443") {
		t.Fatalf("want an error at the destination, got %v", findings)
	}
	s, findings := compileEntries(t, entries+vs("match: [{sourceNamespace: team-a}], "))
	if s == nil || schema.HasErrors(findings) {
		t.Fatalf("compile: %v", findings)
	}
	wantServed(t, s, "team-a", map[string]string{stripe80: "10.0.0.2", "outbound|8443||api.stripe.com": "10.0.0.2"})
	wantServed(t, s, "team-b", map[string]string{stripe80: "10.0.0.1"})
}

// TestEntryPortsRefused: what a sidecar route condition cannot say is refused at the entry's
// ports: entries seen somewhere with different lowest ports (the bare host name goes to one),
// and a port the public entry has that a namespace's own entry lacks.
func TestEntryPortsRefused(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{apiEntry("shared", "", "10.0.0.1", 80) + apiEntry("team-a", `["."]`, "10.0.0.2", 8080), "whose lowest port is 80, not 8080"},
		{apiEntry("shared", "", "10.0.0.1", 80, 8080) + apiEntry("team-a", `["."]`, "10.0.0.2", 80), "has port 8080 in the ServiceEntry the rest of the mesh sees, but not in this one, which proxies in team-a see"},
	} {
		_, findings := compileEntries(t, tc.src)
		if !schema.HasErrors(findings) || !strings.Contains(findings[0].Message, "spec.ports") || !strings.Contains(findings[0].Message, tc.want) {
			t.Errorf("want an error at spec.ports saying %q, got %v", tc.want, findings)
		}
	}
}

// TestEntrySidecars: a namespace's Sidecar that admits the entry its namespace sees first
// agrees with Istio (a team's "./*" beside its own private entry, the rest of the mesh seeing
// the public one); one that admits another entry of the host and not that one is refused,
// since Istio's proxies there would see the admitted one, which signalbox does not choose.
func TestEntrySidecars(t *testing.T) {
	s, findings := compileEntries(t, apiEntry("shared", "", "10.0.0.1")+apiEntry("team-a", `["."]`, "10.0.0.2")+
		sidecarDoc("team-a", "default", "", "./*"))
	if s == nil || schema.HasErrors(findings) {
		t.Fatalf("a team's ./* Sidecar beside its private entry: %v", findings)
	}
	wantServed(t, s, "team-a", map[string]string{stripe80: "10.0.0.2"})
	wantServed(t, s, "other", map[string]string{stripe80: "10.0.0.1"})
	for _, ns := range []string{"team-a", "other"} {
		lr, err := s.Localized(s.Role(SidecarRole), Place{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		if got := firstCluster(t, lr, "api.stripe.com"); got != stripe80 {
			t.Errorf("proxy in %q: api.stripe.com routed to %q, want %s", ns, got, stripe80)
		}
	}

	_, findings = compileEntries(t, apiEntry("shared", "", "10.0.0.1")+apiEntry("team-a", `[".", team-b]`, "10.0.0.2")+
		sidecarDoc("team-b", "default", "", "shared/*"))
	if len(findings) != 1 || !strings.Contains(findings[0].String(), "ServiceEntry shared/stripe: spec.hosts[0]: not supported yet (host \"api.stripe.com\" is declared in several namespaces and the Sidecars' egress hosts admit this ServiceEntry and ServiceEntry team-a/stripe for different proxies") {
		t.Errorf("team-b's Sidecar admitting the public entry, not team-a's it sees first: findings %v", findings)
	}
}
