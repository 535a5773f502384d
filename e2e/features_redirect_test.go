package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
)

// directBytes is a directResponse body that is not text: a NUL, bytes that are not UTF-8 and
// a newline, so any decoding or re-encoding on the way would show.
var directBytes = []byte{0x00, 'o', 'k', 0xff, 0xfe, '\n', 0x80}

// redirectMesh is the web service on ports 80 and 8080 (the sidecar routes each port with its
// own virtual host, so a rule's FROM_REQUEST_PORT is that port) with redirect and
// directResponse rules and a catch-all to the backend.
func redirectMesh(web *echoServer) map[string]string {
	return map[string]string{
		"policies/web.yaml": webEntry(web.webEndpoint("app: web")) + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - name: to-port
    match: [{uri: {prefix: /to-port}}]
    redirect: {uri: /landing, port: 9443}
  - name: to-host-port
    match: [{uri: {prefix: /to-host-port}}]
    redirect: {authority: other.example, port: 9443, redirectCode: 302}
  - name: protocol-default
    match: [{uri: {prefix: /protocol-default}}]
    redirect: {uri: /landing, derivePort: FROM_PROTOCOL_DEFAULT}
  - name: protocol-default-https
    match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT, redirectCode: 308}
  - name: request-port
    match: [{uri: {prefix: /request-port}}]
    redirect: {authority: other.example, derivePort: FROM_REQUEST_PORT, redirectCode: 303}
  - name: uri-only
    match: [{uri: {prefix: /uri-only}}]
    redirect: {uri: /landing}
  - name: bytes
    match: [{uri: {exact: /bytes}}]
    directResponse: {status: 203, body: {bytes: %s}}
  - name: empty
    match: [{uri: {exact: /empty}}]
    directResponse: {status: 204}
  - route: [{destination: {host: web}}]
`, base64.StdEncoding.EncodeToString(directBytes)),
	}
}

// TestFeatureRedirectAndDirectResponse checks what a client sees for redirect ports, derived
// ports, codes and bodies given as bytes. Istio's translation sets Envoy's port_redirect to
// the port given, to the rule's own port for FROM_REQUEST_PORT, and to nothing for
// FROM_PROTOCOL_DEFAULT (and for 80 on http): without a port_redirect Envoy keeps the
// request's authority as sent, dropping its port only when the scheme changes away from the
// scheme that port is the default of.
func TestFeatureRedirectAndDirectResponse(t *testing.T) {
	web := startEchoServer(t, "web")
	m := startMesh(t, redirectMesh(web))

	for _, tc := range []struct {
		name, host, path string
		status           int
		location         string
	}{
		// port: the Location carries it, in place of the request's port; 301 by default.
		{"port", "web", "/to-port", 301, "http://web:9443/landing"},
		{"port replaces the request's", "web:8080", "/to-port?q=1", 301, "http://web:9443/landing?q=1"},
		{"port with authority keeps the path", "web", "/to-host-port/a", 302, "http://other.example:9443/to-host-port/a"},
		// FROM_PROTOCOL_DEFAULT: no port of its own, the authority stays as the client sent it.
		{"protocol default", "web", "/protocol-default", 301, "http://web/landing"},
		{"protocol default keeps :80", "web:80", "/protocol-default", 301, "http://web:80/landing"},
		{"protocol default keeps :8080", "web:8080", "/protocol-default", 301, "http://web:8080/landing"},
		{"protocol default to https drops :80", "web:80", "/secure/x?y=1", 308, "https://web/secure/x?y=1"},
		{"protocol default to https keeps :8080", "web:8080", "/secure", 308, "https://web:8080/secure"},
		// FROM_REQUEST_PORT: the port of the virtual host the request matched, 80 left out.
		{"request port 8080", "web:8080", "/request-port", 303, "http://other.example:8080/request-port"},
		{"request port 80", "web", "/request-port", 303, "http://other.example/request-port"},
		{"request port 80 with :80 sent", "web:80", "/request-port", 303, "http://other.example/request-port"},
		// uri alone: scheme and authority are the request's, the query is kept.
		{"uri only", "web:8080", "/uri-only/deep?a=1&b=2", 301, "http://web:8080/landing?a=1&b=2"},
	} {
		t.Run("redirect "+tc.name, func(t *testing.T) {
			r := m.get(tc.host, tc.path, nil)
			if r.status != tc.status || r.header.Get("Location") != tc.location {
				t.Fatalf("%s%s: status %d Location %q, want %d %q", tc.host, tc.path, r.status, r.header.Get("Location"), tc.status, tc.location)
			}
			if r.header.Get("X-Backend") != "" {
				t.Fatalf("%s%s: the backend answered a redirect", tc.host, tc.path)
			}
		})
	}

	t.Run("direct response bytes", func(t *testing.T) {
		for _, host := range []string{"web", "web:8080"} {
			r := m.get(host, "/bytes", nil)
			if r.status != http.StatusNonAuthoritativeInfo || r.body != string(directBytes) {
				t.Fatalf("%s: status %d body %q, want 203 %q", host, r.status, r.body, directBytes)
			}
			if r.header.Get("Content-Type") != "text/plain" || r.header.Get("Content-Length") != fmt.Sprint(len(directBytes)) {
				t.Fatalf("%s: Content-Type %q Content-Length %q, want text/plain %d", host, r.header.Get("Content-Type"), r.header.Get("Content-Length"), len(directBytes))
			}
		}
	})
	t.Run("direct response without body", func(t *testing.T) {
		if r := m.get("web", "/empty", nil); r.status != http.StatusNoContent || r.body != "" || r.header.Get("X-Backend") != "" {
			t.Fatalf("status %d body %q", r.status, r.body)
		}
	})
	t.Run("other paths reach the backend", func(t *testing.T) {
		if r := m.get("web:8080", "/landing", nil); r.status != http.StatusOK || r.echo.Name != "web" || r.echo.Path != "/landing" {
			t.Fatalf("status %d answered by %q for %q", r.status, r.echo.Name, r.echo.Path)
		}
	})
}
