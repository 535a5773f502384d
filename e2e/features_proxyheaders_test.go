package e2e

import (
	"io"
	"net/http"
	"testing"
)

// Istio's meshConfig.defaultConfig.proxyHeaders in signalbox.yaml, as platforms that keep
// internal details out of their traffic set it: neither the gateway nor the sidecar adds a
// Server field, an x-request-id, an x-envoy-attempt-count or x-envoy-upstream-service-time;
// the application's own x-request-id still passes, and forwarding works as before.
func TestFeatureProxyHeadersOff(t *testing.T) {
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/shop.yaml": shopBehindGateway(shop),
		"policies/signalbox.yaml": `proxyHeaders:
  server: {disabled: true}
  requestId: {disabled: true}
  attemptCount: {disabled: true}
  envoyDebugHeaders: {disabled: true}
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "ingressgateway"})
	req, _ := http.NewRequest(http.MethodGet, "http://"+gw.ListenerAddr("0.0.0.0_80")+"/items", nil)
	req.Host = "shop.example.com"
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	viaGateway := reply{status: resp.StatusCode, header: resp.Header}
	viaSidecar := m.get("shop.example.com", "/items", map[string]string{"X-Request-Id": "from-the-app"})
	for name, r := range map[string]reply{"gateway": viaGateway, "sidecar": viaSidecar} {
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d", name, r.status)
		}
		if s, ok := r.header["Server"]; ok {
			t.Errorf("%s: Server %q, want none (the backend sends none)", name, s)
		}
		if v := r.header.Get("X-Envoy-Upstream-Service-Time"); v != "" {
			t.Errorf("%s: x-envoy-upstream-service-time %q, want none", name, v)
		}
	}
	seen := shop.requests()
	if len(seen) != 2 {
		t.Fatalf("the backend saw %d requests, want 2", len(seen))
	}
	for i, name := range []string{"gateway", "sidecar"} {
		h := seen[i].Headers
		if v := h.Get("X-Envoy-Attempt-Count"); v != "" {
			t.Errorf("%s: upstream saw x-envoy-attempt-count %q, want none", name, v)
		}
		if h.Get("X-Forwarded-Proto") != "http" {
			t.Errorf("%s: upstream saw x-forwarded-proto %q, want http (Envoy always sets it)", name, h.Get("X-Forwarded-Proto"))
		}
	}
	if v := seen[0].Headers.Get("X-Request-Id"); v != "" {
		t.Errorf("gateway: upstream saw x-request-id %q, want none generated", v)
	}
	if v := seen[1].Headers.Get("X-Request-Id"); v != "from-the-app" {
		t.Errorf("sidecar: upstream saw x-request-id %q, want the application's", v)
	}
}
