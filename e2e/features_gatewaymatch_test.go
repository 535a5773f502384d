package e2e

import (
	"net/http"
	"testing"
)

// One VirtualService serves the ingress gateway and the mesh, with rules for one or the other
// (match.gateways): the gateway refuses /admin and routes to v1, the sidecar routes everything
// to the canary v2.
func TestFeatureMatchGateways(t *testing.T) {
	v1, v2 := startEchoServer(t, "v1"), startEchoServer(t, "v2")
	m := startMesh(t, map[string]string{
		"policies/front.yaml": serviceEntry("front", "front.example.com", v1.endpoint("version: v1"), v2.endpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: front}
spec:
  host: front.example.com
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
` + ingressGateway("front.example.com") + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front}
spec:
  hosts: [front.example.com]
  gateways: [public, mesh]
  http:
  - match: [{gateways: [public], uri: {prefix: /admin}}]
    directResponse: {status: 403}
  - match: [{gateways: [mesh]}]
    route: [{destination: {host: front.example.com, subset: v2}}]
  - route: [{destination: {host: front.example.com, subset: v1}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	viaGateway := *m
	viaGateway.addr = gw.ListenerAddr("0.0.0.0_80")
	if viaGateway.addr == "" {
		t.Fatal("the gateway has no listener 0.0.0.0_80")
	}

	for _, c := range []struct {
		via         *meshEnv
		name, path  string
		status      int
		wantBackend string
	}{
		{&viaGateway, "gateway", "/admin/users", http.StatusForbidden, ""},
		{&viaGateway, "gateway", "/", http.StatusOK, "v1"},
		{m, "sidecar", "/admin/users", http.StatusOK, "v2"},
		{m, "sidecar", "/", http.StatusOK, "v2"},
	} {
		r := c.via.get("front.example.com", c.path, nil)
		if r.status != c.status || r.echo.Name != c.wantBackend {
			t.Errorf("%s %s: %d from %q, want %d from %q", c.name, c.path, r.status, r.echo.Name, c.status, c.wantBackend)
		}
	}
}
