package e2e

import (
	"net/http"
	"testing"
)

// matchingMesh routes web to v2 when a rule matches and to v1 otherwise.
func matchingMesh(v1, v2 *echoServer) map[string]string {
	return map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			v1.endpoint("version: v1"), v2.endpoint("version: v2")) + `---
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
  - name: case
    match: [{uri: {exact: /Login}, ignoreUriCase: true}]
    route: [{destination: {host: web, subset: v2}}]
  - name: present
    match: [{uri: {prefix: /present}, headers: {x-canary: {}}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: without
    match: [{uri: {prefix: /without}, withoutHeaders: {x-legacy: {exact: "true"}}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: query
    match: [{uri: {prefix: /query}, queryParams: {debug: {exact: "1"}}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: method
    match: [{uri: {prefix: /submit}, method: {exact: POST}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: authority
    match: [{uri: {prefix: /authority}, authority: {exact: web.default.svc.cluster.local}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: scheme
    match: [{uri: {prefix: /scheme}, scheme: {exact: http}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: either
    match: [{uri: {prefix: /a/}}, {headers: {x-b: {regex: "b+"}}}]
    route: [{destination: {host: web, subset: v2}}]
  - name: rest
    route: [{destination: {host: web, subset: v1}}]
`,
	}
}

func TestFeatureMatching(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	m := startMesh(t, matchingMesh(v1, v2))
	cases := []struct {
		name    string
		method  string
		host    string
		path    string
		headers map[string]string
		want    string
	}{
		{"ignoreUriCase", "GET", "web", "/LOGIN", nil, "v2"},
		{"exact path only", "GET", "web", "/login/more", nil, "v1"},
		{"header present", "GET", "web", "/present", map[string]string{"x-canary": ""}, "v2"},
		{"header absent", "GET", "web", "/present", nil, "v1"},
		{"withoutHeaders, header missing", "GET", "web", "/without", nil, "v2"},
		{"withoutHeaders, other value", "GET", "web", "/without", map[string]string{"x-legacy": "false"}, "v2"},
		{"withoutHeaders, forbidden value", "GET", "web", "/without", map[string]string{"x-legacy": "true"}, "v1"},
		{"query parameter", "GET", "web", "/query?debug=1", nil, "v2"},
		{"query parameter differs", "GET", "web", "/query?debug=0", nil, "v1"},
		{"method", "POST", "web", "/submit", nil, "v2"},
		{"other method", "GET", "web", "/submit", nil, "v1"},
		{"authority", "GET", "web.default.svc.cluster.local", "/authority", nil, "v2"},
		{"other authority", "GET", "web", "/authority", nil, "v1"},
		{"scheme", "GET", "web", "/scheme", nil, "v2"},
		{"first match block", "GET", "web", "/a/x", nil, "v2"},
		{"second match block", "GET", "web", "/other", map[string]string{"x-b": "bbb"}, "v2"},
		{"no rule matches", "GET", "web", "/other", nil, "v1"},
	}
	for _, c := range cases {
		r := m.do(c.method, c.host, c.path, c.headers)
		if r.status != http.StatusOK || r.echo.Name != c.want {
			t.Errorf("%s: %s %s%s went to %q (status %d), want %s", c.name, c.method, c.host, c.path, r.echo.Name, r.status, c.want)
		}
	}
	// A host the mesh does not declare has no virtual host: Envoy answers 404.
	if r := m.get("unknown.example.com", "/", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown host: status %d, want 404", r.status)
	}
}

// A declared host without a VirtualService goes round robin to all its endpoints.
func TestFeatureDeclaredHostWithoutVirtualService(t *testing.T) {
	a, b := startEchoServer(t, "a"), startEchoServer(t, "b")
	m := startMesh(t, map[string]string{
		"policies/plain.yaml": serviceEntry("plain", "plain.default.svc.cluster.local", a.endpoint("app: plain"), b.endpoint("app: plain")),
	})
	counts := map[string]int{}
	for range 40 {
		r := m.get("plain", "/", nil)
		counts[r.echo.Name]++
	}
	if counts["a"] < 10 || counts["b"] < 10 {
		t.Fatalf("want both endpoints used round robin, got %v", counts)
	}
}
