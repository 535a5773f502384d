package compiler

import (
	"strings"
	"testing"

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
