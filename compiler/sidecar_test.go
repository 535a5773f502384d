package compiler

import (
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
)

// sidecarMesh is a service in each of three namespaces, for the Sidecar cases below.
const sidecarMesh = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: team-a}
spec:
  hosts: [web.team-a.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: team-b}
spec:
  hosts: [api.team-b.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.2}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: istio-system}
spec:
  hosts: [dns.istio-system.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.3}]
`

func sidecarDoc(namespace, name, selector string, hosts ...string) string {
	out := "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: " + name + ", namespace: " + namespace + "}\nspec:\n"
	if selector != "" {
		out += "  workloadSelector: {labels: {" + selector + "}}\n"
	}
	return out + "  egress:\n  - hosts: [\"" + strings.Join(hosts, `", "`) + "\"]\n"
}

func compileSidecars(t *testing.T, src string) (*Snapshot, []schema.Finding) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(sidecarMesh + src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

// seen lists which of the mesh's three services a proxy at place is served routes for.
func seen(t *testing.T, s *Snapshot, role string, place Place) string {
	t.Helper()
	lr, err := s.Localized(s.Role(role), place)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range []string{"web.team-a.svc.cluster.local", "api.team-b.svc.cluster.local", "dns.istio-system.svc.cluster.local"} {
		if firstCluster(t, lr, h) != "" {
			out = append(out, strings.Split(h, ".")[0])
		}
	}
	return strings.Join(out, ",")
}

// TestSidecarChoice: a proxy gets the Sidecar Istio would give it (a workload-selected one of
// its namespace, else its namespace's, else the root namespace's, else none) and sees what its
// egress hosts admit; the root Sidecar's "./" hosts are each proxy's own namespace.
func TestSidecarChoice(t *testing.T) {
	s, findings := compileSidecars(t,
		sidecarDoc("team-a", "default", "", "./*")+
			sidecarDoc("team-a", "b-caller", "app: caller", "team-b/*")+
			sidecarDoc("team-a", "a-caller", "app: caller, track: x", "*/dns.istio-system.svc.cluster.local")+
			sidecarDoc("istio-system", "default", "", "./*", "istio-system/*"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	for _, tc := range []struct {
		name  string
		place Place
		want  string
	}{
		{"namespace Sidecar", Place{Namespace: "team-a"}, "web"},
		{"selector unmatched", Place{Namespace: "team-a", Labels: map[string]string{"app": "other"}}, "web"},
		{"workload-selected Sidecar", Place{Namespace: "team-a", Labels: map[string]string{"app": "caller"}}, "api"},
		{"two selectors match: the first by name", Place{Namespace: "team-a", Labels: map[string]string{"app": "caller", "track": "x"}}, "dns"},
		{"root Sidecar, own namespace", Place{Namespace: "team-b"}, "api,dns"},
		{"root Sidecar elsewhere", Place{Namespace: "team-c"}, "dns"},
		{"root Sidecar in the root namespace", Place{Namespace: "istio-system"}, "dns"},
		{"no namespace: root Sidecar", Place{}, "dns"},
	} {
		for _, role := range []string{SidecarRole, GRPCRole} {
			if got := seen(t, s, role, tc.place); got != tc.want {
				t.Errorf("%s (%s): sees %q, want %q", tc.name, role, got, tc.want)
			}
		}
	}
}

// TestSidecarNone: without a root Sidecar a proxy no Sidecar applies to sees everything, and
// a tree without Sidecars shares the compiled route table with every place.
func TestSidecarNone(t *testing.T) {
	s, findings := compileSidecars(t, sidecarDoc("team-a", "default", "", "./*"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	if got := seen(t, s, SidecarRole, Place{Namespace: "team-b"}); got != "web,api,dns" {
		t.Errorf("proxy without Sidecar sees %q", got)
	}
	if got := seen(t, s, SidecarRole, Place{Namespace: "team-a"}); got != "web" {
		t.Errorf("team-a proxy sees %q", got)
	}
	s, findings = compileSidecars(t, "")
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	r := s.Role(SidecarRole)
	if lr, err := s.Localized(r, Place{Namespace: "team-a", Labels: map[string]string{"app": "x"}}); err != nil || lr != r {
		t.Errorf("without Sidecars the role is not shared: %v", err)
	}
}

// TestSidecarVirtualService: a VirtualService the Sidecar does not admit leaves its service
// routed by default; one it admits makes its destination seen too.
func TestSidecarVirtualService(t *testing.T) {
	vs := `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: team-b}
spec:
  hosts: [api.team-b.svc.cluster.local]
  http:
  - route: [{destination: {host: api.team-b.svc.cluster.local}}]
    timeout: 2s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias, namespace: team-c}
spec:
  hosts: [alias.team-c.svc.cluster.local]
  http:
  - route: [{destination: {host: web.team-a.svc.cluster.local}}]
`
	s, findings := compileSidecars(t, vs+
		sidecarDoc("team-a", "default", "", "team-b/api.team-b.svc.cluster.local")+
		sidecarDoc("team-d", "default", "", "team-c/*"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	// team-a's Sidecar admits both the service and its VirtualService (same namespace, host).
	if got := timeoutOf(t, s, Place{Namespace: "team-a"}, "api.team-b.svc.cluster.local"); got != "2s" {
		t.Errorf("team-a: timeout %q, want the VirtualService's 2s", got)
	}
	if got := seen(t, s, SidecarRole, Place{Namespace: "team-d"}); got != "web" {
		t.Errorf("team-d sees %q, want web (the destination of the alias it admits)", got)
	}
	s, findings = compileSidecars(t, vs+sidecarDoc("team-a", "default", "", "*/api.team-b.svc.cluster.local")+
		sidecarDoc("team-e", "default", "", "./*", "team-b/api.team-b.svc.cluster.local"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	if got := timeoutOf(t, s, Place{Namespace: "team-a"}, "api.team-b.svc.cluster.local"); got != "2s" {
		t.Errorf("team-a: timeout %q", got)
	}
	s, findings = compileSidecars(t, strings.Replace(vs, "namespace: team-b}", "namespace: team-x}", 1)+
		sidecarDoc("team-a", "default", "", "team-b/*"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	if got := timeoutOf(t, s, Place{Namespace: "team-a"}, "api.team-b.svc.cluster.local"); got != "0s" {
		t.Errorf("team-a, VirtualService in team-x not admitted: timeout %q, want the default route's 0s", got)
	}
	if got := timeoutOf(t, s, Place{Namespace: "team-b"}, "api.team-b.svc.cluster.local"); got != "2s" {
		t.Errorf("team-b, no Sidecar: timeout %q, want 2s", got)
	}
}

func timeoutOf(t *testing.T, s *Snapshot, place Place, host string) string {
	t.Helper()
	lr, err := s.Localized(s.Role(SidecarRole), place)
	if err != nil {
		t.Fatal(err)
	}
	for _, vh := range routeTables(lr) {
		for _, d := range vh.GetDomains() {
			if d == host && len(vh.GetRoutes()) > 0 {
				return vh.GetRoutes()[0].GetRoute().GetTimeout().AsDuration().String()
			}
		}
	}
	return ""
}

// TestSidecarRefused: what signalbox's proxies do not honour is refused at its field, and a
// namespace has one Sidecar without workloadSelector.
func TestSidecarRefused(t *testing.T) {
	_, findings := compileSidecars(t, `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: team-a}
spec:
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: 127.0.0.1:8080
  egress:
  - port: {number: 80, protocol: HTTP, name: http}
    bind: 127.0.0.2
    captureMode: NONE
    hosts: ["./*"]
  outboundTrafficPolicy: {mode: ALLOW_ANY}
  inboundConnectionPool: {tcp: {maxConnections: 1}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: second, namespace: team-a}
spec:
  egress: [{hosts: ["./*"]}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: registry-only, namespace: team-b}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`)
	var got []string
	for _, f := range findings {
		got = append(got, f.Path)
	}
	want := []string{"spec.ingress", "spec.egress[0].port", "spec.egress[0].bind", "spec.egress[0].captureMode",
		"spec.outboundTrafficPolicy.mode", "spec.inboundConnectionPool", "metadata.name"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("findings at %v, want %v:\n%v", got, want, findings)
	}
}

// routeTables are the virtual hosts of a role's route tables.
func routeTables(r *Role) []*route.VirtualHost {
	var out []*route.VirtualHost
	for _, res := range r.Resources[resource.RouteType] {
		out = append(out, res.(*route.RouteConfiguration).GetVirtualHosts()...)
	}
	return out
}

// TestSidecarShortHostWarns: egress hosts are matched as written, so a short name admits no
// service of the mesh; it compiles with a warning that names the full host.
func TestSidecarShortHostWarns(t *testing.T) {
	s, findings := compileSidecars(t, sidecarDoc("team-a", "default", "", "team-b/api", "./web", "*/api.team-b.svc.cluster.local", "istio-system/*"))
	if s == nil {
		t.Fatalf("compile: %v", findings)
	}
	var got []string
	for _, f := range findings {
		if f.Severity != schema.SeverityWarning {
			t.Errorf("not a warning: %v", f)
		}
		got = append(got, f.Message)
	}
	want := []string{
		`spec.egress[0].hosts[0]: "team-b/api" names a short host: egress hosts are matched as written, so it admits only a host named exactly "api"; write the full name (team-b/api.team-b.svc.cluster.local)`,
		`spec.egress[0].hosts[1]: "./web" names a short host: egress hosts are matched as written, so it admits only a host named exactly "web"; write the full name (./web.team-a.svc.cluster.local)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSidecarsNarrowedToTheRouteNamespaces: a route limited to some namespaces (a ServiceEntry
// exported to its own) names only the Sidecars that can apply there, so a Sidecar change in
// another namespace leaves its route table as it was; what each proxy is served is unchanged.
func TestSidecarsNarrowedToTheRouteNamespaces(t *testing.T) {
	private := strings.Replace(sidecarMesh, "  hosts: [web.team-a.svc.cluster.local]\n", "  hosts: [web.team-a.svc.cluster.local]\n  exportTo: [.]\n", 1)
	compile := func(teamBHosts string) *Snapshot {
		t.Helper()
		tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(private +
			sidecarDoc("team-a", "default", "", "./*") + sidecarDoc("team-b", "default", "", teamBHosts) +
			sidecarDoc("istio-system", "default", "", "./*", "istio-system/*"))}})
		if schema.HasErrors(findings) {
			t.Fatalf("load: %v", findings)
		}
		s, findings := Compile(tree)
		if s == nil || len(findings) > 0 {
			t.Fatalf("compile: %v", findings)
		}
		return s
	}
	before, after := compile("./*"), compile("*/*")
	for name, s := range map[string]*Snapshot{"before": before, "after": after} {
		var sidecars []string
		for _, vh := range routeTables(s.Role(SidecarRole)) {
			if strings.HasPrefix(vh.GetName(), "web.team-a") {
				for _, rt := range vh.GetRoutes() {
					src, err := xds.RouteSource(rt)
					if err != nil || src == nil {
						t.Fatalf("web's route has no source condition (%v)", err)
					}
					sidecars = src.Sidecars
				}
			}
		}
		// team-b's Sidecar admits web after the change, the root one's "./*" too, but neither
		// applies to a proxy in team-a, the one namespace web is exported to.
		if got := strings.Join(sidecars, " "); got != " team-a/default" {
			t.Errorf("%s: web (exported to team-a) is for Sidecars %q, want no Sidecar and team-a/default only", name, got)
		}
	}
	for _, place := range []Place{{Namespace: "team-a"}, {Namespace: "team-b"}, {Namespace: "other"}} {
		b, a := seen(t, before, SidecarRole, place), seen(t, after, SidecarRole, place)
		if place.Namespace == "team-a" && b != "web" {
			t.Errorf("team-a sees %q, want web", b)
		}
		if place.Namespace == "team-b" {
			if b != "api" || a != "api,dns" {
				t.Errorf("team-b sees %q then %q, want api then api,dns", b, a)
			}
		} else if a != b {
			t.Errorf("%s sees %q, then %q after team-b's Sidecar changed", place.Namespace, b, a)
		}
	}
	if v1, v2 := before.Role(SidecarRole).Versions[resource.RouteType], after.Role(SidecarRole).Versions[resource.RouteType]; v1 == v2 {
		t.Errorf("team-b's Sidecar change left the route version %s: team-b's own view changed", v1)
	}
}
