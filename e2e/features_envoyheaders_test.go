package e2e

import (
	"io"
	"net/http"
	"regexp"
	"testing"
)

// The headers Istio's proxies add and strip whatever the routes say, through the whole chain:
// the gateway answers as istio-envoy, treats its clients as external (a new x-request-id,
// x-envoy-external-address, the router's x-envoy-* controls stripped); the sidecar answers as
// envoy and keeps the application's request id; both count attempts and time the upstream.
func TestFeatureEnvoyHeaders(t *testing.T) {
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{"policies/shop.yaml": shopBehindGateway(shop)})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	gwAddr := gw.ListenerAddr("0.0.0.0_80")
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	sent := map[string]string{"X-Request-Id": "from-the-app", "X-Envoy-Retry-On": "5xx", "X-Envoy-Internal": "true"}

	viaGateway := func() reply {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+gwAddr+"/items", nil)
		req.Host = "shop.example.com"
		for k, v := range sent {
			req.Header.Set(k, v)
		}
		resp, err := m.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := reply{status: resp.StatusCode, header: resp.Header}
		body, _ := io.ReadAll(resp.Body)
		r.body = string(body)
		return r
	}
	for _, tc := range []struct {
		name   string
		r      reply
		server string
	}{
		{"gateway", viaGateway(), "istio-envoy"},
		{"sidecar", m.get("shop.example.com", "/items", sent), "envoy"},
	} {
		if tc.r.status != http.StatusOK {
			t.Fatalf("%s: status %d", tc.name, tc.r.status)
		}
		if got := tc.r.header.Get("Server"); got != tc.server {
			t.Errorf("%s: Server %q, want %q", tc.name, got, tc.server)
		}
		if tc.r.header.Get("X-Envoy-Upstream-Service-Time") == "" {
			t.Errorf("%s: no x-envoy-upstream-service-time", tc.name)
		}
	}
	seen := shop.requests()
	if len(seen) != 2 {
		t.Fatalf("the backend saw %d requests, want 2", len(seen))
	}
	gwSeen, scSeen := seen[0].Headers, seen[1].Headers
	for name, h := range map[string]http.Header{"gateway": gwSeen, "sidecar": scSeen} {
		if h.Get("X-Envoy-Attempt-Count") != "1" || h.Get("X-Envoy-Retry-On") != "" || h.Get("X-Envoy-Internal") != "" {
			t.Errorf("%s: upstream saw attempt count %q, retry-on %q, internal %q; want 1 and the others stripped", name,
				h.Get("X-Envoy-Attempt-Count"), h.Get("X-Envoy-Retry-On"), h.Get("X-Envoy-Internal"))
		}
	}
	if id := gwSeen.Get("X-Request-Id"); !uuid4.MatchString(id) || gwSeen.Get("X-Envoy-External-Address") != "127.0.0.1" {
		t.Errorf("gateway: upstream saw x-request-id %q, x-envoy-external-address %q; want a new UUID and the client's address",
			id, gwSeen.Get("X-Envoy-External-Address"))
	}
	if scSeen.Get("X-Request-Id") != "from-the-app" || scSeen.Get("X-Envoy-External-Address") != "" {
		t.Errorf("sidecar: upstream saw x-request-id %q, x-envoy-external-address %q; want the application's id and none",
			scSeen.Get("X-Request-Id"), scSeen.Get("X-Envoy-External-Address"))
	}
}
