package compiler

import (
	"slices"
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/schema"
)

// detailsService is one service with two subsets, for the exportTo cases below.
const detailsService = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: details, namespace: default}
spec:
  hosts: [details.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: default}
spec:
  host: details.mesh
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
`

func compileExportTo(t *testing.T, src string) (*Snapshot, []schema.Finding) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(detailsService + src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

func vsFor(namespace, exportTo, subset string) string {
	return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: ` + namespace + `}
spec:
  hosts: [details.mesh]
  exportTo: ` + exportTo + `
  http:
  - route: [{destination: {host: details.mesh, subset: ` + subset + `}}]
`
}

// TestExportToPerNamespace: VirtualServices for one host that no namespace sees together are
// each served to their own namespace's proxies; other proxies route the service by default.
func TestExportToPerNamespace(t *testing.T) {
	s, findings := compileExportTo(t, vsFor("team-a", `["."]`, "v1")+vsFor("team-b", `[team-b, team-c]`, "v2"))
	if s == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	r := s.Role(SidecarRole)
	for ns, want := range map[string]string{
		"team-a": "outbound|80|v1|details.mesh",
		"team-b": "outbound|80|v2|details.mesh",
		"team-c": "outbound|80|v2|details.mesh",
		"other":  "outbound|80||details.mesh",
		"":       "outbound|80||details.mesh",
	} {
		lr, err := s.Localized(r, Place{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		if got := firstCluster(t, lr, "details.mesh"); got != want {
			t.Errorf("proxy in namespace %q: %s, want %s", ns, got, want)
		}
	}
}

func TestExportToConflicts(t *testing.T) {
	for name, c := range map[string]struct {
		src, want string
	}{
		"both seen by team-b": {vsFor("team-a", `[".", team-b]`, "v1") + vsFor("team-b", `["."]`, "v2"),
			`mesh.yaml:32:11: error: VirtualService team-b/details: spec.hosts[0]: host "details.mesh" is already routed by VirtualService team-a/details`},
		"one seen everywhere": {vsFor("team-a", `["*"]`, "v1") + vsFor("team-b", `["."]`, "v2"),
			`VirtualService team-b/details: spec.hosts[0]: host "details.mesh" is already routed by VirtualService team-a/details`},
	} {
		t.Run(name, func(t *testing.T) {
			_, findings := compileExportTo(t, c.src)
			var all []string
			for _, f := range findings {
				all = append(all, f.String())
			}
			if got := strings.Join(all, "\n"); !strings.Contains(got, c.want) {
				t.Errorf("findings:\n%s\nwant one containing %s", got, c.want)
			}
		})
	}
}

// TestDelegateNotExportedToRoot: Istio drops a delegation whose delegate is not exported to the
// root's namespace; here it is an error at the delegate reference.
func TestDelegateNotExportedToRoot(t *testing.T) {
	_, findings := compileExportTo(t, `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: front}
spec:
  hosts: [details.mesh]
  http:
  - delegate: {name: sub, namespace: team-a}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sub, namespace: team-a}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: details.mesh, subset: v1}}]
`)
	want := "VirtualService front/root: spec.http[0].delegate: delegate VirtualService team-a/sub is not exported to namespace front"
	if len(findings) != 1 || !strings.Contains(findings[0].String(), want) {
		t.Errorf("findings %v, want one containing %q", findings, want)
	}
}

// exportedDetails is detailsService with its ServiceEntry exported to exportTo.
func exportedDetails(exportTo string) string {
	return strings.Replace(detailsService, "  hosts: [details.mesh]\n", "  hosts: [details.mesh]\n  exportTo: "+exportTo+"\n", 1)
}

func compileTree(t *testing.T, src string) (*Snapshot, []schema.Finding) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(src)}})
	if tree == nil || schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	return Compile(tree)
}

// routesOf is the routes of host's virtual host in role r, and whether r has that virtual host.
func routesOf(r *Role, host string) ([]*route.Route, bool) {
	for _, res := range r.Resources[resource.RouteType] {
		for _, vh := range res.(*route.RouteConfiguration).GetVirtualHosts() {
			if slices.Contains(vh.GetDomains(), host) {
				return vh.GetRoutes(), true
			}
		}
	}
	return nil, false
}

// TestServiceEntryExportToPerNamespace: a service is routed on the sidecars of the namespaces
// its ServiceEntry is exported to, by its VirtualService if one is seen there or by default;
// a sidecar elsewhere has its virtual host without routes (404, as for an unknown host).
func TestServiceEntryExportToPerNamespace(t *testing.T) {
	for name, c := range map[string]struct {
		src  string
		want map[string]string // proxy namespace: first cluster, "" for no route
	}{
		"no VirtualService": {exportedDetails(`[".", team-b]`), map[string]string{
			"default": "outbound|80||details.mesh", "team-b": "outbound|80||details.mesh", "other": "", "": ""}},
		"VirtualService seen everywhere": {exportedDetails(`["."]`) + vsFor("default", `["*"]`, "v2"), map[string]string{
			"default": "outbound|80|v2|details.mesh", "team-b": "", "": ""}},
		// The VirtualService is for team-a and team-b, the service for default and team-a:
		// team-a takes its route, default the service's default route, team-b nothing.
		"VirtualService exported elsewhere": {exportedDetails(`[".", team-a]`) + vsFor("team-a", `[".", team-b]`, "v1"), map[string]string{
			"team-a": "outbound|80|v1|details.mesh", "default": "outbound|80||details.mesh", "team-b": "", "other": ""}},
	} {
		t.Run(name, func(t *testing.T) {
			s, findings := compileTree(t, c.src)
			if s == nil || len(findings) > 0 {
				t.Fatalf("compile: %v", findings)
			}
			r := s.Role(SidecarRole)
			for ns, want := range c.want {
				lr, err := s.Localized(r, Place{Namespace: ns})
				if err != nil {
					t.Fatal(err)
				}
				routes, ok := routesOf(lr, "details.mesh")
				if !ok {
					t.Fatalf("proxy in namespace %q: no virtual host for details.mesh", ns)
				}
				if got := firstCluster(t, lr, "details.mesh"); got != want {
					t.Errorf("proxy in namespace %q: %q (%d routes), want %q", ns, got, len(routes), want)
				}
				if want == "" && len(routes) > 0 {
					t.Errorf("proxy in namespace %q: %d routes, want none", ns, len(routes))
				}
			}
		})
	}
}

// TestServiceEntryExportedNowhere: "~" compiles with a warning and no sidecar routes the host.
func TestServiceEntryExportedNowhere(t *testing.T) {
	s, findings := compileTree(t, exportedDetails(`["~"]`))
	want := `mesh.yaml:6:3: warning: ServiceEntry default/details: spec.exportTo: exported to no namespace ("~")`
	if len(findings) != 1 || !strings.HasPrefix(findings[0].String(), want) {
		t.Fatalf("findings %v, want one starting %s", findings, want)
	}
	if s == nil {
		t.Fatal("no snapshot for a warning")
	}
	if _, ok := routesOf(s.Role(SidecarRole), "details.mesh"); ok {
		t.Error("the sidecar has a virtual host for a service exported to no namespace")
	}
	if s.Role(SidecarRole).Resources[resource.ClusterType] == nil {
		t.Error("no clusters")
	}
}

// TestServiceEntryExportToDestinations: a route to a service its ServiceEntry does not
// export to a namespace where the route applies is an error at the destination; one that
// applies only where the service is seen compiles.
func TestServiceEntryExportToDestinations(t *testing.T) {
	front := func(namespace, exportTo, match string) string {
		return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: front, namespace: default}
spec:
  hosts: [front.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.1.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: ` + namespace + `}
spec:
  hosts: [front.mesh]
  exportTo: ` + exportTo + `
  http:
  - ` + match + `route: [{destination: {host: details.mesh, subset: v1}}]
`
	}
	for name, c := range map[string]struct {
		src, want string // want "": compiles
	}{
		"seen everywhere": {exportedDetails(`["."]`) + front("default", `["*"]`, ""),
			`mesh.yaml:36:34: error: VirtualService default/front: spec.http[0].route[0].destination.host: host "details.mesh" is ServiceEntry default/details, exported to namespace default only (exportTo ["."]), but the route applies on sidecars in every namespace`},
		"exported to one namespace more": {exportedDetails(`[".", team-a]`) + front("team-a", `[".", default, team-b]`, ""),
			`spec.http[0].route[0].destination.host: host "details.mesh" is ServiceEntry default/details, exported to namespaces default, team-a only (exportTo [".", "team-a"]), but the route applies on sidecars in namespace team-b`},
		"exported where the service is":        {exportedDetails(`[".", team-a]`) + front("team-a", `[".", default]`, ""), ""},
		"sourceNamespace where the service is": {exportedDetails(`["."]`) + front("team-a", `["*"]`, "match: [{sourceNamespace: default}]\n    "), ""},
		"a weight of 0": {exportedDetails(`["."]`) + strings.Replace(front("team-a", `["*"]`, ""), "route: [{destination: {host: details.mesh, subset: v1}}]",
			"route: [{destination: {host: details.mesh, subset: v1}, weight: 0}, {destination: {host: front.mesh}, weight: 100}]", 1), ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, findings := compileTree(t, c.src)
			var all []string
			for _, f := range findings {
				all = append(all, f.String())
			}
			got := strings.Join(all, "\n")
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("findings:\n%s\nwant one containing %s", got, c.want)
			}
		})
	}
}
