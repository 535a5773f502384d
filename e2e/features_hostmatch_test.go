package e2e

import "testing"

// A Host header is a host name, whatever the case of its letters: the sidecar routes
// "Reviews:9080" as "reviews:9080", through the scope of that service, with and without a
// VirtualService.
func TestFeatureHostInAnyCase(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local", v1.endpoint("version: v1")) + `---
` + serviceEntry("api", "api.default.svc.cluster.local", v2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: api}}]
  - route: [{destination: {host: web}}]
`,
	})
	for _, c := range []struct {
		host, user, want string
	}{
		{"web", "", "v1"},
		{"Web", "", "v1"},
		{"WEB:80", "", "v1"},
		{"Web.Default.Svc.Cluster.Local", "", "v1"},
		{"Web:80", "jason", "v2"},
		{"API.default", "", "v2"}, // no VirtualService: the service's own route
	} {
		hdr := map[string]string{}
		if c.user != "" {
			hdr["end-user"] = c.user
		}
		r := m.get(c.host, "/", hdr)
		if r.status != 200 || r.echo.Name != c.want {
			t.Errorf("Host %s (end-user %q): %d from %q, want 200 from %s", c.host, c.user, r.status, r.echo.Name, c.want)
		}
	}
	if r := m.get("Nowhere", "/", nil); r.status != 404 {
		t.Errorf("Host Nowhere: %d, want 404", r.status)
	}
}
