package compiler

import (
	"slices"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
)

// viewMesh is a service per kind of exportTo and Sidecar admission, for the cluster views
// below: reviews (default) is exported to its own namespace (".") only, ratings (default, two
// subsets) to team-a and team-b, secret (default) to none ("~"); orders (team-a), payments
// (team-b), audit (team-c) and billing (team-d) are exported everywhere. team-a's Sidecar
// admits its own namespace and ratings from any namespace ("*/"); team-b's its own and
// default's ratings ("ns/host"). A VirtualService in team-a sends its alias to team-c's audit:
// team-a's proxies see audit through it, as Istio adds the destinations of the
// VirtualServices a Sidecar admits.
const viewMesh = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  exportTo: ["."]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.default.svc.cluster.local]
  exportTo: [team-a, team-b]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.2, labels: {version: v1}}, {address: 10.0.0.3, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.default.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secret, namespace: default}
spec:
  hosts: [secret.default.svc.cluster.local]
  exportTo: ["~"]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.4}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders, namespace: team-a}
spec:
  hosts: [orders.team-a.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.1.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: team-b}
spec:
  hosts: [payments.team-b.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.2.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: audit, namespace: team-c}
spec:
  hosts: [audit.team-c.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.3.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: billing, namespace: team-d}
spec:
  hosts: [billing.team-d.svc.cluster.local]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: billing.example.com}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias, namespace: team-a}
spec:
  hosts: [alias.team-a.svc.cluster.local]
  http:
  - route: [{destination: {host: audit.team-c.svc.cluster.local}}]
` + `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: team-a}
spec:
  egress:
  - hosts: ["./*", "*/ratings.default.svc.cluster.local"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: team-b}
spec:
  egress:
  - hosts: ["./*", "default/ratings.default.svc.cluster.local"]
`

func compileView(t *testing.T, src string) *Snapshot {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	s, findings := Compile(tree)
	if s == nil || schema.HasErrors(findings) {
		t.Fatalf("compile: %v", findings)
	}
	return s
}

// clusterView is the services (the host's first label, a subset after "/") whose clusters a
// proxy at place is served, sorted and joined, after checking that each served cluster has its
// endpoints (EDS) and carries nothing only the publisher reads.
func clusterView(t *testing.T, s *Snapshot, role string, place Place) (string, *Role) {
	t.Helper()
	lr, err := s.Localized(s.Role(role), place)
	if err != nil {
		t.Fatal(err)
	}
	eds := map[string]bool{}
	for _, res := range lr.Resources[resource.EndpointType] {
		eds[res.(*endpoint.ClusterLoadAssignment).ClusterName] = true
	}
	var out []string
	for _, res := range lr.Resources[resource.ClusterType] {
		c := res.(*cluster.Cluster)
		if xds.HasVisible(c) || xds.HasScope(c) {
			t.Errorf("%s at %+v: cluster %s served with its conditions", role, place, c.Name)
		}
		if c.GetEdsClusterConfig() != nil && !eds[c.Name] {
			t.Errorf("%s at %+v: cluster %s served without its endpoints", role, place, c.Name)
		}
		delete(eds, c.Name)
		parts := strings.Split(c.Name, "|") // outbound|PORT|SUBSET|HOST
		name := strings.Split(parts[3], ".")[0]
		if parts[2] != "" {
			name += "/" + parts[2]
		}
		out = append(out, name)
	}
	if len(eds) > 0 {
		t.Errorf("%s at %+v: endpoints of clusters not served: %v", role, place, eds)
	}
	slices.Sort(out)
	return strings.Join(out, ","), lr
}

// TestClusterViewSidecar: a sidecar (and a proxyless gRPC client) in each namespace is served
// the clusters of the services exported to its namespace that its Sidecar admits, plus the
// destinations of the VirtualServices it admits; "~" is served nowhere, and a proxy without a
// namespace sees what is exported everywhere, as its routes are chosen.
func TestClusterViewSidecar(t *testing.T) {
	s := compileView(t, viewMesh)
	for _, tc := range []struct {
		place Place
		want  string
	}{
		// No Sidecar: every service exported to default ("." included).
		{Place{Namespace: "default"}, "audit,billing,orders,payments,reviews"},
		// "./*", "*/ratings…" and, through the alias VirtualService, audit.
		{Place{Namespace: "team-a"}, "audit,orders,ratings,ratings/v1,ratings/v2"},
		// "./*" and "default/ratings…".
		{Place{Namespace: "team-b"}, "payments,ratings,ratings/v1,ratings/v2"},
		// No Sidecar, not among ratings' namespaces.
		{Place{Namespace: "team-c"}, "audit,billing,orders,payments"},
		{Place{}, "audit,billing,orders,payments"},
	} {
		got, _ := clusterView(t, s, SidecarRole, tc.place)
		if got != tc.want {
			t.Errorf("sidecar in %q: clusters of %s, want %s", tc.place.Namespace, got, tc.want)
		}
		// A gRPC client sees what a sidecar there sees: billing, resolved by DNS to one host
		// name, as a LOGICAL_DNS cluster it resolves itself.
		if got, _ := clusterView(t, s, GRPCRole, tc.place); got != tc.want {
			t.Errorf("grpc in %q: clusters of %s, want %s", tc.place.Namespace, got, tc.want)
		}
	}
	// Places that see the same services share one list and one version; a place that sees
	// more has another.
	_, c := clusterView(t, s, SidecarRole, Place{Namespace: "team-c"})
	_, none := clusterView(t, s, SidecarRole, Place{})
	_, d := clusterView(t, s, SidecarRole, Place{Namespace: "default"})
	if c.Versions[resource.ClusterType] != none.Versions[resource.ClusterType] ||
		&c.Resources[resource.ClusterType][0] != &none.Resources[resource.ClusterType][0] {
		t.Errorf("team-c and no namespace see the same services: want one shared cluster list")
	}
	if c.Versions[resource.ClusterType] == d.Versions[resource.ClusterType] || c.Versions[resource.EndpointType] == d.Versions[resource.EndpointType] {
		t.Errorf("default sees more than team-c: want other cluster and endpoint versions")
	}
}

// TestClusterViewSidecarChange: a Sidecar change shrinks or grows the view of the proxies it
// applies to only; another namespace's proxies keep their clusters and versions.
func TestClusterViewSidecarChange(t *testing.T) {
	before := compileView(t, viewMesh)
	after := compileView(t, strings.Replace(viewMesh, `"default/ratings.default.svc.cluster.local"`, `"team-c/*"`, 1))
	got, b := clusterView(t, after, SidecarRole, Place{Namespace: "team-b"})
	if got != "audit,payments" {
		t.Errorf("team-b after its Sidecar admits team-c/*: clusters of %s, want audit,payments", got)
	}
	for _, ns := range []string{"default", "team-a", "team-c", ""} {
		_, x := clusterView(t, before, SidecarRole, Place{Namespace: ns})
		_, y := clusterView(t, after, SidecarRole, Place{Namespace: ns})
		for _, typ := range []resource.Type{resource.ClusterType, resource.EndpointType} {
			if x.Versions[typ] != y.Versions[typ] {
				t.Errorf("namespace %q: %s version changed with team-b's Sidecar (%s, %s)", ns, typ, x.Versions[typ], y.Versions[typ])
			}
		}
	}
	_, a := clusterView(t, before, SidecarRole, Place{Namespace: "team-b"})
	if a.Versions[resource.ClusterType] == b.Versions[resource.ClusterType] {
		t.Errorf("team-b: cluster version unchanged although its view changed")
	}
}

// TestClusterViewSelectedSidecar: a Sidecar with a workloadSelector applies to the proxies its
// labels select, the namespace's own to the rest; the root namespace's "./*" is each proxy's
// own namespace.
func TestClusterViewSelectedSidecar(t *testing.T) {
	s := compileView(t, viewMesh+`---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: narrow, namespace: team-a}
spec:
  workloadSelector: {labels: {app: batch}}
  egress:
  - hosts: ["team-b/*"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  egress:
  - hosts: ["./*"]
`)
	for _, tc := range []struct {
		place Place
		want  string
	}{
		{Place{Namespace: "team-a", Labels: map[string]string{"app": "batch"}}, "payments"},
		{Place{Namespace: "team-a", Labels: map[string]string{"app": "web"}}, "audit,orders,ratings,ratings/v1,ratings/v2"},
		{Place{Namespace: "team-c"}, "audit"},
		{Place{Namespace: "team-d"}, "billing"},
		{Place{Namespace: "default"}, "reviews"},
	} {
		if got, _ := clusterView(t, s, SidecarRole, tc.place); got != tc.want {
			t.Errorf("sidecar at %+v: clusters of %s, want %s", tc.place, got, tc.want)
		}
	}
}

// TestClusterViewGateway: a gateway proxy ignores Sidecars and is served the clusters its
// routes use of the services exported to its namespace; one running in another namespace
// still gets every cluster its routes and TCP listeners name, so none is left pointing at a
// cluster it lacks (Istio's would answer 503 there).
func TestClusterViewGateway(t *testing.T) {
	s := compileView(t, viewMesh+`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ledger, namespace: default}
spec:
  hosts: [ledger.default.svc.cluster.local]
  exportTo: ["."]
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 10.0.0.5}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  egress:
  - hosts: ["./*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [public]
  http:
  - match: [{uri: {prefix: /orders}}]
    route: [{destination: {host: orders.team-a.svc.cluster.local}}]
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ledger, namespace: default}
spec:
  hosts: ["*"]
  gateways: [public]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: ledger.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: partners, namespace: default}
spec:
  hosts: [partners.example.com]
  exportTo: [team-c]
  gateways: [public]
  http:
  - route: [{destination: {host: ratings.default.svc.cluster.local, subset: v1}}]
`)
	gw := "gateway/istio=ingressgateway"
	labels := map[string]string{"istio": "ingressgateway"}
	for _, tc := range []struct{ ns, want string }{
		{"default", "ledger,orders,reviews"},
		{"istio-system", "ledger,orders,reviews"},
		// partners' routes are for team-c's gateway proxies: the ratings subset they name
		// comes with them, although ratings is not exported there.
		{"team-c", "ledger,orders,ratings/v1,reviews"},
		{"", "ledger,orders,reviews"},
	} {
		if got, _ := clusterView(t, s, gw, Place{Namespace: tc.ns, Labels: labels}); got != tc.want {
			t.Errorf("gateway in %q: clusters of %s, want %s (a gateway takes no Sidecar; what it routes to it is served)", tc.ns, got, tc.want)
		}
	}
	// Exported to team-b, ratings is served whole to team-b's gateway proxies, as Istio's
	// gateways get the services exported to their namespace.
	if got, _ := clusterView(t, s, gw, Place{Namespace: "team-b", Labels: labels}); got != "ledger,orders,ratings/v1,reviews" {
		t.Errorf("gateway in team-b: clusters of %s, want ledger,orders,ratings/v1,reviews", got)
	}
	// The root Sidecar narrows the sidecars of namespaces without their own.
	if got, _ := clusterView(t, s, SidecarRole, Place{Namespace: "istio-system"}); got != "" {
		t.Errorf("sidecar in istio-system: clusters of %s, want none", got)
	}
	if got, _ := clusterView(t, s, SidecarRole, Place{Namespace: "default"}); got != "ledger,reviews" {
		t.Errorf("sidecar in default: clusters of %s, want ledger,reviews", got)
	}
}

// TestClusterViewUnchanged: a tree whose services every proxy sees serves every proxy the
// role as compiled, shared.
func TestClusterViewUnchanged(t *testing.T) {
	s := compileView(t, strings.NewReplacer(`exportTo: ["."]`, ``, `exportTo: [team-a, team-b]`, ``, `exportTo: ["~"]`, ``).Replace(
		viewMesh[:strings.Index(viewMesh, "---\napiVersion: networking.istio.io/v1\nkind: Sidecar")]))
	for _, role := range []string{SidecarRole, GRPCRole} {
		r := s.Role(role)
		for _, ns := range []string{"default", "team-a", ""} {
			lr, err := s.Localized(r, Place{Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			if &lr.Resources[resource.ClusterType][0] != &r.Resources[resource.ClusterType][0] ||
				lr.Versions[resource.ClusterType] != r.Versions[resource.ClusterType] {
				t.Errorf("%s in %q: want the compiled clusters, shared", role, ns)
			}
		}
	}
}
