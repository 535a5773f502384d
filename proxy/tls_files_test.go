package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A gateway's certificate, key and client CA named by file follow the files without a push:
// real handshakes on loopback see the certificate on disk a second or so after it changes,
// whether kubelet swapped a mounted Secret's directory or the files were replaced, and a
// set that does not load leaves the last good one serving, logged once.

// secretVolume lays files out as kubelet mounts a Secret: each version in a directory
// ..N, a symlink ..data to the current one, and each name a symlink into ..data. An update
// writes a new version and renames a new ..data over the old, then removes the old version.
type secretVolume struct {
	dir     string
	version int
}

func (v *secretVolume) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	v.version++
	version := fmt.Sprintf("..2026_01_02_03_04_05.%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(v.dir, version, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(v.dir, "..data"))
	if err := os.Symlink(version, filepath.Join(v.dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(v.dir, "..data_tmp"), filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if _, err := os.Lstat(filepath.Join(v.dir, name)); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		os.RemoveAll(filepath.Join(v.dir, old))
	}
}

// replaceFile writes b to a temporary file beside path and renames it over path.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func fileSource(path string) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: path}}
}

// fileTLS is a DownstreamTlsContext reading its certificate and key (and, when ca is set, the
// CA client certificates must chain to, required) from files.
func fileTLS(cert, key, ca string) *core.TransportSocket {
	d := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{CertificateChain: fileSource(cert), PrivateKey: fileSource(key)}},
		AlpnProtocols:   []string{"h2", "http/1.1"},
	}}
	if ca != "" {
		d.RequireClientCertificate = wrapperspb.Bool(true)
		d.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: fileSource(ca)}}
	}
	return &core.TransportSocket{Name: tlsTransportSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(d)}}
}

// syncBuffer is a log destination tests read while the proxy writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

// startLoggingProxy is startProxy with the proxy's log written to the returned buffer.
func (g certGateway) startLoggingProxy(t *testing.T, listeners ...*listenerv3.Listener) (*Proxy, *syncBuffer) {
	t.Helper()
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, g.snapshot(t, "l1", listeners...))
	logs := &syncBuffer{}
	p := New(Options{XDSAddr: xds.addr, NodeID: node, Labels: map[string]string{"app": "test"},
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	runProxy(t, p)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})
	return p, logs
}

// served is the certificate a fresh handshake with sni gets at addr, presenting client when set.
func served(addr, sni string, client *tls.Certificate) (*x509.Certificate, error) {
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if client != nil {
		// TLS 1.3 reports a refused client certificate after the handshake: read for the alert.
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			return nil, err
		}
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// waitServed handshakes until want is served, for at most a few rechecks.
func waitServed(t *testing.T, addr, sni string, client *tls.Certificate, want *testPKI, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * tlsFilesRecheck)
	for {
		got, err := served(addr, sni, client)
		if err == nil && got.Equal(want.server.Leaf) {
			return
		}
		if time.Now().After(deadline) {
			name := "none"
			if got != nil {
				name = got.Issuer.String()
			}
			t.Fatalf("%s: the handshake got %s (%v), want the new certificate", what, name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerCertificateFollowsSecretVolume: a listener of one chain whose certificate and key
// are a mounted Secret's files serves each version kubelet swaps in, with no xDS push; a
// version whose key does not match its certificate leaves the last good pair serving and is
// logged once; the next good version is served.
func TestServerCertificateFollowsSecretVolume(t *testing.T) {
	t.Parallel()
	v1, v2, v3, v4 := newPKI(t, "shop.example.com"), newPKI(t, "shop.example.com"), newPKI(t, "shop.example.com"), newPKI(t, "shop.example.com")
	vol := &secretVolume{dir: t.TempDir()}
	vol.write(t, map[string][]byte{"tls.crt": v1.serverCertPEM, "tls.key": v1.serverKeyPEM})
	g := newCertGateway(t)
	l := httpListener("gw", "0.0.0.0", 443, shopRoutes)
	l.FilterChains[0].TransportSocket = fileTLS(filepath.Join(vol.dir, "tls.crt"), filepath.Join(vol.dir, "tls.key"), "")
	others := []*listenerv3.Listener{httpListener("org-plain", "0.0.0.0", 8081, orgRoutes), httpListener("default-plain", "0.0.0.0", 8082, defaultRoutes)}
	p, logs := g.startLoggingProxy(t, append([]*listenerv3.Listener{l}, others...)...)
	addr := p.ListenerAddr("gw")
	if got, err := served(addr, "shop.example.com", nil); err != nil || !got.Equal(v1.server.Leaf) {
		t.Fatalf("before any update: %v, %v", got, err)
	}

	vol.write(t, map[string][]byte{"tls.crt": v2.serverCertPEM, "tls.key": v2.serverKeyPEM})
	waitServed(t, addr, "shop.example.com", nil, v2, "the Secret's second version")
	if code, be, err := httpsGet(httpsClient(t, "shop.example.com", v2, "shop.example.com", nil, true), addr, "shop.example.com", "/", true); err != nil || code != 200 || be != "shop" {
		t.Errorf("a request with the new certificate: %d from %q (%v)", code, be, err)
	}

	// A version whose key is another certificate's: the second keeps serving, logged once.
	vol.write(t, map[string][]byte{"tls.crt": v3.serverCertPEM, "tls.key": v4.serverKeyPEM})
	deadline := time.Now().Add(5 * tlsFilesRecheck)
	for logs.count("do not load") == 0 {
		served(addr, "shop.example.com", nil) // handshakes look at the files
		if time.Now().After(deadline) {
			t.Fatalf("a pair that does not load was not logged:\n%s", logs.b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for end := time.Now().Add(tlsFilesRecheck + 300*time.Millisecond); time.Now().Before(end); { // the files are looked at again
		if got, err := served(addr, "shop.example.com", nil); err != nil || !got.Equal(v2.server.Leaf) {
			t.Fatalf("after a bad version: %v (%v), want the second version still served", got, err)
		}
	}
	if n := logs.count("do not load"); n != 1 {
		t.Errorf("the bad version was logged %d times, want once:\n%s", n, logs.b.String())
	}

	vol.write(t, map[string][]byte{"tls.crt": v4.serverCertPEM, "tls.key": v4.serverKeyPEM})
	waitServed(t, addr, "shop.example.com", nil, v4, "a good version after a bad one")
	if got := p.Versions()[lds]; got != "l1" {
		t.Errorf("listeners at version %q: the files were followed without a push", got)
	}
}

// TestServerFilesReplacedOnSNIChain: on a listener whose chains are chosen by SNI, a chain
// requiring client certificates follows its files: a client CA replaced by a rename lets the
// new CA's clients in and keeps the old CA's out, and a certificate and key rewritten in
// place are presented. The other chain is untouched.
func TestServerFilesReplacedOnSNIChain(t *testing.T) {
	t.Parallel()
	shop, org, org2 := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org"), newPKI(t, "blog.example.org")
	dir := t.TempDir()
	cert, key, ca := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	for path, b := range map[string][]byte{cert: org.serverCertPEM, key: org.serverKeyPEM, ca: org.caPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := newCertGateway(t)
	orgChain := httpsChain(org, names("blog.example.org"), orgRoutes, nil)
	orgChain.TransportSocket = fileTLS(cert, key, ca)
	p, _ := g.startLoggingProxy(t, httpsListener("gw",
		httpsChain(shop, names("shop.example.com"), shopRoutes, nil),
		orgChain,
		httpsChain(newPKI(t, "default.example.net"), nil, defaultRoutes, nil)))
	addr := p.ListenerAddr("gw")
	if _, err := served(addr, "blog.example.org", &org.client); err != nil {
		t.Fatalf("org's client before the update: %v", err)
	}
	if _, err := served(addr, "blog.example.org", &org2.client); err == nil {
		t.Fatal("a client of a CA not yet trusted was let in")
	}

	replaceFile(t, ca, org2.caPEM)
	deadline := time.Now().Add(5 * tlsFilesRecheck)
	for {
		if _, err := served(addr, "blog.example.org", &org2.client); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new client CA was not followed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := served(addr, "blog.example.org", &org.client); err == nil {
		t.Error("a client of the replaced CA is still let in")
	}

	// Written in place, as cp does: the same files, changed.
	for path, b := range map[string][]byte{key: org2.serverKeyPEM, cert: org2.serverCertPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitServed(t, addr, "blog.example.org", &org2.client, org2, "org's replaced certificate")
	code, be, err := httpsGet(httpsClient(t, "blog.example.org", org2, "blog.example.org", &org2.client, false), addr, "blog.example.org", "/", false)
	if err != nil || code != 200 || be != "org" {
		t.Errorf("org with the new certificates: %d from %q (%v)", code, be, err)
	}
	if got, err := served(addr, "shop.example.com", nil); err != nil || !got.Equal(shop.server.Leaf) {
		t.Errorf("shop's chain: %v (%v)", got, err)
	}
}
