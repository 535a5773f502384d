package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
)

// startTLSServer serves HTTPS with the PKI's server certificate, no client certificate asked,
// and answers with the SNI it was sent.
func startTLSServer(t *testing.T, p *pki) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", "tls")
			json.NewEncoder(w).Encode(map[string]string{"sni": r.TLS.ServerName})
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{p.serverCert}},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the refused handshakes are the point
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// systemRootsTree declares three names for one TLS server whose certificate, from a test CA,
// names only api.secure.test: two verified against the system's roots (no caCertificates),
// one against the test CA's file.
func systemRootsTree(addr, caFile string) map[string]string {
	host, port, _ := strings.Cut(addr, ":")
	entry := func(name string) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s}
spec:
  hosts: [%[1]s.secure.test]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: %[2]s, ports: {http: %[3]s}}
---
`, name, host, port)
	}
	rule := func(name, tls string) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %s}
spec:
  host: %s.secure.test
  trafficPolicy:
    tls: %s
---
`, name, name, tls)
	}
	return map[string]string{"policies/secure.yaml": entry("api") + rule("api", "{mode: SIMPLE}") +
		entry("other") + rule("other", "{mode: SIMPLE}") +
		entry("pinned") + rule("pinned", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: api.secure.test}", caFile))}
}

// A DestinationRule tls SIMPLE without caCertificates verifies the server against the system's
// trusted roots, as Istio does. This machine's roots do not trust a test CA, so the request
// fails; naming the CA file in caCertificates makes it succeed.
func TestFeatureUpstreamTLSSystemRoots(t *testing.T) {
	if roots, err := x509.SystemCertPool(); err != nil || roots.Equal(x509.NewCertPool()) {
		t.Skip("this machine has no trusted roots: the proxy refuses system_root_certs outright")
	}
	p := newPKI(t, "api.secure.test")
	m := startMesh(t, systemRootsTree(startTLSServer(t, p), p.caFile))
	if r := m.get("api.secure.test", "/", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("a test CA's certificate checked against the system's roots: status %d body %q, want 503", r.status, r.body)
	}
	if r := m.get("pinned.secure.test", "/", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"sni":"api.secure.test"`) {
		t.Errorf("with caCertificates: status %d body %q, want 200 with SNI api.secure.test", r.status, r.body)
	}
}

// The same tree through a `signalbox proxy` process whose system trust store is the test CA
// (SSL_CERT_FILE, read by Go's crypto/x509 on Linux): the server is verified and reached with
// the host as SNI, and a host its certificate does not name is refused.
func TestFeatureUpstreamTLSSystemRootsTrusted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the signalbox binary")
	}
	p := newPKI(t, "api.secure.test")
	m := startMesh(t, systemRootsTree(startTLSServer(t, p), p.caFile))
	px := startChild(t, []string{"SSL_CERT_FILE=" + p.caFile, "SSL_CERT_DIR=" + t.TempDir()},
		"proxy", "--xds", m.pub.XDSAddr(), "--node-id", "sidecar-2", "--label", "app=client",
		"--bind", "*=127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	addr := sidecarProcessAddr(t, px)
	m.addr = addr // the same requests, now through the proxy process
	if r := m.get("api.secure.test", "/", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"sni":"api.secure.test"`) {
		t.Errorf("trusted by the system's roots: status %d body %q, want 200 with SNI api.secure.test", r.status, r.body)
	}
	if r := m.get("other.secure.test", "/", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("a certificate that does not name other.secure.test: status %d body %q, want 503", r.status, r.body)
	}
}

// sidecarProcessAddr waits until the proxy process px (started with --admin-addr) has applied
// a configuration routing its sidecar listener, and returns where that listener is bound.
func sidecarProcessAddr(t *testing.T, px *child) string {
	t.Helper()
	admin := px.logValue("admin listening", "addr")
	var cfg proxy.ConfigDump
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy process never got ready: %+v\n%s", cfg, px.log())
		}
		resp, err := http.Get("http://" + admin + "/config")
		if err != nil {
			continue
		}
		cfg = proxy.ConfigDump{}
		json.NewDecoder(resp.Body).Decode(&cfg)
		resp.Body.Close()
		if cfg.LastNACK != nil {
			t.Fatalf("the proxy process rejected the tree: %+v", cfg.LastNACK)
		}
		for _, l := range cfg.Listeners {
			if l.Name == demo.SidecarListener && l.Routed && cfg.Ready {
				return l.BoundAddress
			}
		}
	}
}
