package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
)

// Routes for some proxies only: a VirtualService match block with sourceLabels applies to the
// proxies carrying those labels, one with sourceNamespace to proxies in that namespace, as
// Istio builds routes per proxy. Each sidecar says what it is (--label, --namespace) and is
// served only the routes for it.

// sourceMesh runs reviews on three versions and ratings on two, with routes by caller:
// reviews v2 for productpage v2, v3 for proxies in namespace test, v1 for the rest; ratings v2
// for reviews proxies only, so every other proxy reaches ratings as if no VirtualService named
// it (round robin over both).
func sourceMesh(t *testing.T) (m *meshEnv) {
	t.Helper()
	v1, v2, v3 := startEchoServer(t, "reviews-v1"), startEchoServer(t, "reviews-v2"), startEchoServer(t, "reviews-v3")
	r1, r2 := startEchoServer(t, "ratings-v1"), startEchoServer(t, "ratings-v2")
	return startMesh(t, map[string]string{
		"policies/reviews.yaml": serviceEntry("reviews", "reviews.mesh",
			v1.endpoint("version: v1"), v2.endpoint("version: v2"), v3.endpoint("version: v3")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews.mesh
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews.mesh]
  http:
  - match:
    - sourceLabels: {app: productpage, version: v2}
    route:
    - destination: {host: reviews.mesh, subset: v2}
  - match:
    - sourceNamespace: test
    route:
    - destination: {host: reviews.mesh, subset: v3}
  - route:
    - destination: {host: reviews.mesh, subset: v1}
`,
		"policies/ratings.yaml": serviceEntry("ratings", "ratings.mesh", r1.endpoint("version: v1"), r2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings.mesh
  subsets:
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings.mesh]
  http:
  - match:
    - sourceLabels: {app: reviews}
    route:
    - destination: {host: ratings.mesh, subset: v2}
`,
	})
}

func TestFeatureSourceLabelsAndNamespace(t *testing.T) {
	m := sourceMesh(t)
	for _, tc := range []struct {
		name    string
		opts    proxy.Options
		reviews string
		ratings map[string]int
	}{
		// startMesh's own sidecar: app=client, no namespace.
		{"client", proxy.Options{}, "reviews-v1", map[string]int{"ratings-v1": 10, "ratings-v2": 10}},
		{"productpage v2", proxy.Options{NodeID: "productpage-v2", Labels: map[string]string{"app": "productpage", "version": "v2"}, Namespace: "default"},
			"reviews-v2", map[string]int{"ratings-v1": 10, "ratings-v2": 10}},
		{"productpage v1", proxy.Options{NodeID: "productpage-v1", Labels: map[string]string{"app": "productpage", "version": "v1"}, Namespace: "default"},
			"reviews-v1", map[string]int{"ratings-v1": 10, "ratings-v2": 10}},
		{"in namespace test", proxy.Options{NodeID: "tester", Labels: map[string]string{"app": "tester"}, Namespace: "test"},
			"reviews-v3", map[string]int{"ratings-v1": 10, "ratings-v2": 10}},
		{"reviews", proxy.Options{NodeID: "reviews-v1", Labels: map[string]string{"app": "reviews", "version": "v1"}, Namespace: "default"},
			"reviews-v1", map[string]int{"ratings-v2": 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := m
			if tc.opts.NodeID != "" {
				at = sidecarWith(t, m, tc.opts)
			}
			if got := at.backendsOf("reviews.mesh", 10); got[tc.reviews] != 10 {
				t.Errorf("reviews: %v, want all 10 on %s", got, tc.reviews)
			}
			if got := at.backendsOf("ratings.mesh", 20); !mapsEqual(got, tc.ratings) {
				t.Errorf("ratings: %v, want %v", got, tc.ratings)
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSourceNamespaceThroughTheCommands runs `signalbox proxy --namespace test` as a process:
// it takes the route for namespace test, and `signalbox status` shows its namespace.
func TestSourceNamespaceThroughTheCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the signalbox binary")
	}
	m := sourceMesh(t)
	px := startChild(t, nil, "proxy", "--xds", m.pub.XDSAddr(), "--node-id", "test-cli", "--namespace", "test",
		"--bind", "*=127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	through := *m
	through.addr = sidecarProcessAddr(t, px)
	if got := through.backendsOf("reviews.mesh", 10); got["reviews-v3"] != 10 {
		t.Errorf("proxy process in namespace test: %v, want all 10 on reviews-v3", got)
	}
	if _, err := demo.AwaitSync(m.ctx, m.pub, m.pub.Status().Commit, "test-cli"); err != nil {
		t.Fatal(err)
	}
	if got, inSync, out := statusCell(t, m, "test-cli", "NAMESPACE"); got != "test" || !inSync {
		t.Errorf("signalbox status: no row for test-cli in namespace test, in sync:\n%s", out)
	}
	// A namespace that is not a DNS label is a usage error naming the flag.
	bad := exec.Command(signalboxBinary(t), "proxy", "--xds", m.pub.XDSAddr(), "--node-id", "x", "--namespace", "Team A")
	out, err := bad.CombinedOutput()
	if code := bad.ProcessState.ExitCode(); err == nil || code != 2 || !strings.Contains(string(out), "--namespace") {
		t.Errorf("--namespace 'Team A': exit %d, %s; want exit 2 naming the flag", code, out)
	}
}

// TestFeatureExportTo: two teams route one service each for their own namespace (exportTo
// "."); a sidecar in either namespace takes its team's route, one elsewhere the service's
// default route (round robin over both versions), as Istio serves each proxy the
// VirtualServices its namespace sees.
func TestFeatureExportTo(t *testing.T) {
	v1, v2 := startEchoServer(t, "details-v1"), startEchoServer(t, "details-v2")
	vs := func(namespace, subset string) string {
		return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: ` + namespace + `}
spec:
  hosts: [details.mesh]
  exportTo: ["."]
  http:
  - route:
    - destination: {host: details.mesh, subset: ` + subset + `}
`
	}
	m := startMesh(t, map[string]string{"policies/details.yaml": serviceEntry("details", "details.mesh",
		v1.endpoint("version: v1"), v2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details}
spec:
  host: details.mesh
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
` + vs("team-a", "v1") + vs("team-b", "v2")})
	for _, tc := range []struct {
		namespace string
		want      map[string]int
	}{
		{"team-a", map[string]int{"details-v1": 10}},
		{"team-b", map[string]int{"details-v2": 10}},
		{"team-c", map[string]int{"details-v1": 5, "details-v2": 5}},
	} {
		at := sidecarWith(t, m, proxy.Options{NodeID: "in-" + tc.namespace, Labels: map[string]string{"app": "client"}, Namespace: tc.namespace})
		if got := at.backendsOf("details.mesh", 10); !mapsEqual(got, tc.want) {
			t.Errorf("sidecar in %s: %v, want %v", tc.namespace, got, tc.want)
		}
	}
}

// TestFeatureServiceEntryExportTo: a service its ServiceEntry exports to team-a only is
// routed (by its VirtualService) on team-a's sidecars; a sidecar in team-b does not see it
// and answers 404, as for an unknown host, while it still reaches a service exported
// everywhere, as Istio shows each proxy only the services its namespace sees.
func TestFeatureServiceEntryExportTo(t *testing.T) {
	v1, v2, r := startEchoServer(t, "details-v1"), startEchoServer(t, "details-v2"), startEchoServer(t, "ratings")
	details := strings.Replace(serviceEntry("details", "details.mesh", v1.endpoint("version: v1"), v2.endpoint("version: v2")),
		"metadata: {name: details}\nspec:\n", "metadata: {name: details, namespace: team-a}\nspec:\n  exportTo: [\".\"]\n", 1)
	if !strings.Contains(details, "exportTo") {
		t.Fatalf("serviceEntry changed shape:\n%s", details)
	}
	m := startMesh(t, map[string]string{
		"policies/details.yaml": details + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: team-a}
spec:
  host: details.mesh
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: team-a}
spec:
  hosts: [details.mesh]
  http:
  - route:
    - destination: {host: details.mesh, subset: v1}
`,
		"policies/ratings.yaml": serviceEntry("ratings", "ratings.mesh", r.endpoint("version: v1")),
	})
	for _, tc := range []struct {
		namespace        string
		details, ratings map[string]int
	}{
		{"team-a", map[string]int{"details-v1": 10}, map[string]int{"ratings": 10}},
		{"team-b", map[string]int{"404": 10}, map[string]int{"ratings": 10}},
	} {
		at := sidecarWith(t, m, proxy.Options{NodeID: "in-" + tc.namespace, Labels: map[string]string{"app": "client"}, Namespace: tc.namespace})
		if got := at.backendsOf("details.mesh", 10); !mapsEqual(got, tc.details) {
			t.Errorf("sidecar in %s, details: %v, want %v", tc.namespace, got, tc.details)
		}
		if got := at.backendsOf("ratings.mesh", 10); !mapsEqual(got, tc.ratings) {
			t.Errorf("sidecar in %s, ratings: %v, want %v", tc.namespace, got, tc.ratings)
		}
	}
}
