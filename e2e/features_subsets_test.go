package e2e

import (
	"testing"
)

// A match on a port applies only to requests for that port of the service.
func TestFeaturePortMatch(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": webEntry(v1.webEndpoint("version: v1"), v2.webEndpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{port: 8080}]
    route: [{destination: {host: web, subset: v2}}]
  - route: [{destination: {host: web, subset: v1}}]
`,
	})
	if r := m.get("web:8080", "/", nil); r.echo.Name != "v2" {
		t.Fatalf("port 8080 went to %q, want v2", r.echo.Name)
	}
	if r := m.get("web", "/", nil); r.echo.Name != "v1" {
		t.Fatalf("port 80 went to %q, want v1", r.echo.Name)
	}
}

// A subset's traffic policy replaces the top-level one: here the top level hashes on a header
// and the "spread" subset goes back to round robin.
func TestFeatureSubsetPolicyOverrides(t *testing.T) {
	a, b, c := startEchoServer(t, "a"), startEchoServer(t, "b"), startEchoServer(t, "c")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			a.endpoint("app: web"), b.endpoint("app: web"), c.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  subsets:
  - {name: sticky, labels: {app: web}}
  - name: spread
    labels: {app: web}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{headers: {x-spread: {exact: "yes"}}}]
    route: [{destination: {host: web, subset: spread}}]
  - route: [{destination: {host: web, subset: sticky}}]
`,
	})
	sticky, spread := map[string]int{}, map[string]int{}
	for range 12 {
		sticky[m.get("web", "/", map[string]string{"x-user": "alice"}).echo.Name]++
		spread[m.get("web", "/", map[string]string{"x-user": "alice", "x-spread": "yes"}).echo.Name]++
	}
	if len(sticky) != 1 || len(spread) < 2 {
		t.Fatalf("one user: sticky subset used %v (want one endpoint), spread subset %v (want several)", sticky, spread)
	}
}

// Each load-balancing policy through the proxy: query-parameter and source-IP hashing (maglev)
// keep a key on one endpoint; LEAST_REQUEST and RANDOM spread requests.
func TestFeatureLoadBalancers(t *testing.T) {
	a, b, c := startEchoServer(t, "a"), startEchoServer(t, "b"), startEchoServer(t, "c")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			a.endpoint("app: web"), b.endpoint("app: web"), c.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets:
  - name: query
    labels: {app: web}
    trafficPolicy: {loadBalancer: {consistentHash: {httpQueryParameterName: user}}}
  - name: sourceip
    labels: {app: web}
    trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1021}}}}
  - name: least
    labels: {app: web}
    trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  - name: random
    labels: {app: web}
    trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{headers: {x-lb: {exact: query}}}]
    route: [{destination: {host: web, subset: query}}]
  - match: [{headers: {x-lb: {exact: sourceip}}}]
    route: [{destination: {host: web, subset: sourceip}}]
  - match: [{headers: {x-lb: {exact: least}}}]
    route: [{destination: {host: web, subset: least}}]
  - route: [{destination: {host: web, subset: random}}]
`,
	})
	spread := func(lb, path string) map[string]int {
		got := map[string]int{}
		for range 30 {
			got[m.get("web", path, map[string]string{"x-lb": lb}).echo.Name]++
		}
		return got
	}
	for _, user := range []string{"alice", "bob", "carol"} {
		if got := spread("query", "/?user="+user); len(got) != 1 || got[""] != 0 {
			t.Errorf("query hash, user %s: %v, want one endpoint", user, got)
		}
	}
	if got := spread("sourceip", "/"); len(got) != 1 || got[""] != 0 {
		t.Errorf("source IP hash (maglev): %v, want one endpoint for one client", got)
	}
	for _, lb := range []string{"least", "random"} {
		if got := spread(lb, "/"); len(got) < 2 || got[""] != 0 {
			t.Errorf("%s: %v, want requests spread over several endpoints", lb, got)
		}
	}
}
