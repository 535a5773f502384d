package e2e

import (
	"net/http"
	"testing"
)

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

// The sidecar matches the Host port and all, as Envoy matches the domains it is given: a port
// the service does not declare is routed nowhere, while the bare host and the declared port
// are routed. A gateway's virtual hosts list the host bare and with any port, as Istio's do
// (a load balancer in front may listen on another port than the gateway's).
func TestFeatureHostPortMatchedAsSent(t *testing.T) {
	web, shop := startEchoServer(t, "web"), startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/web.yaml":  serviceEntry("web", "web.default.svc.cluster.local", web.endpoint("app: web")),
		"policies/shop.yaml": shopBehindGateway(shop),
	})
	for host, code := range map[string]int{
		"web":                               200,
		"web:80":                            200,
		"web.default.svc.cluster.local:80":  200,
		"web:81":                            404,
		"web.default.svc.cluster.local:443": 404,
	} {
		if r := m.get(host, "/", nil); r.status != code || (code == 200 && r.echo.Name != "web") {
			t.Errorf("sidecar, Host %s: %d from %q, want %d", host, r.status, r.echo.Name, code)
		}
	}

	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	addr := gw.ListenerAddr("0.0.0.0_80")
	if addr == "" {
		t.Fatal("the gateway has no listener 0.0.0.0_80")
	}
	for host, code := range map[string]int{"shop.example.com": 200, "Shop.Example.com:80": 200, "shop.example.com:8443": 200, "shop.example.org:80": 404} {
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "http://"+addr+"/", nil)
		req.Host = host
		resp, err := m.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code || (code == 200 && resp.Header.Get("X-Backend") != "shop") {
			t.Errorf("gateway, Host %s: %d from %q, want %d", host, resp.StatusCode, resp.Header.Get("X-Backend"), code)
		}
	}
}

// A host that only a VirtualService names (no ServiceEntry declares it) is routed bare and on
// the ports Istio's sidecar lists it on: those of the services its VirtualService also names,
// or 80 when it names none.
func TestFeatureVirtualServiceOnlyHostPorts(t *testing.T) {
	web := startEchoServer(t, "web")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local", web.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias}
spec:
  hosts: [alias.example.com]
  http:
  - route: [{destination: {host: web}}]
`,
	})
	for host, code := range map[string]int{
		"alias.example.com":      200,
		"Alias.Example.com:80":   200,
		"alias.example.com:8080": 404,
	} {
		if r := m.get(host, "/", nil); r.status != code || (code == 200 && r.echo.Name != "web") {
			t.Errorf("sidecar, Host %s: %d from %q, want %d", host, r.status, r.echo.Name, code)
		}
	}
}
