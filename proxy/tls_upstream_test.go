package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// systemRoots is the validation context the compiler emits without caCertificates.
var systemRoots = &tlsv3.CertificateValidationContext_SystemRootCerts{}

// verifyingContext verifies the upstream as vc says and its SAN, presenting the PKI's client
// certificate (the test backend requires one).
func verifyingContext(pki *testPKI, vc *tlsv3.CertificateValidationContext) *tlsv3.UpstreamTlsContext {
	vc.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS,
		Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "backend.example"}}}}
	return &tlsv3.UpstreamTlsContext{Sni: "backend.example", CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificates: []*tlsv3.TlsCertificate{{
			CertificateChain: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.clientCertPEM}},
			PrivateKey:       &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.clientKeyPEM}},
		}},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc},
	}}
}

// TestUpstreamTLSSystemRoots: system_root_certs verifies the upstream against the machine's
// trusted roots, which do not hold a test CA, so the request fails; with trusted_ca beside it
// the CA file is used instead, as in Envoy, and the same upstream is reached.
func TestUpstreamTLSSystemRoots(t *testing.T) {
	if roots, err := x509.SystemCertPool(); err != nil || roots.Equal(x509.NewCertPool()) {
		t.Skip("this machine has no trusted roots: system_root_certs is refused outright")
	}
	pki := newPKI(t, "backend.example")
	be := mtlsBackend(t, pki, "secure")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	system := verifyingContext(pki, &tlsv3.CertificateValidationContext{SystemRootCerts: systemRoots})
	withCA := verifyingContext(pki, &tlsv3.CertificateValidationContext{SystemRootCerts: systemRoots,
		TrustedCa: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: caFile}}})
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/system", "system"), prefixRoute("/ca", "ca")))
	_, p, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"system": {be}, "ca": {be}},
		edit: map[string]func(*clusterv3.Cluster){
			"system": func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, system) },
			"ca":     func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, withCA) },
		}})
	if d := configOf(t, p); d.LastNACK != nil {
		t.Fatalf("NACK: %+v", d.LastNACK)
	}
	if resp := do(t, newClient(), "GET", addr, "svc", "/system"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a test CA's certificate against the system's roots: %d, want 503", resp.StatusCode)
	}
	resp := do(t, newClient(), "GET", addr, "svc", "/ca")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-SNI") != "backend.example" {
		t.Errorf("trusted_ca beside system_root_certs: %d SNI %q, want 200 backend.example", resp.StatusCode, resp.Header.Get("X-SNI"))
	}
}

// TestUpstreamTLSValidationNACKs: a validation context the proxy cannot honour is refused,
// naming the field, rather than verifying less than it says.
func TestUpstreamTLSValidationNACKs(t *testing.T) {
	pki := newPKI(t, "backend.example")
	for name, tc := range map[string]struct {
		vc   *tlsv3.CertificateValidationContext
		want string
	}{
		"neither trusted_ca nor system roots": {&tlsv3.CertificateValidationContext{},
			"validation_context.trusted_ca: required to verify the upstream, or system_root_certs"},
		"crl": {&tlsv3.CertificateValidationContext{SystemRootCerts: systemRoots,
			Crl: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: "x"}}}, "validation_context.crl"},
		"hash pinning": {&tlsv3.CertificateValidationContext{SystemRootCerts: systemRoots,
			VerifyCertificateHash: []string{strings.Repeat("ab", 32)}}, "validation_context.verify_certificate_hash"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := decodeTransportSocket("transport_socket", upstreamTLS(t, verifyingContext(pki, tc.vc)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestUpstreamTLSALPN: alpn_protocols are offered in the handshake, as Envoy offers them:
// Istio's ISTIO_MUTUAL offers istio-peer-exchange and istio, which its inbound listeners pick
// their mTLS chains by; the cluster still speaks HTTP/1.1. Without the field nothing is offered.
func TestUpstreamTLSALPN(t *testing.T) {
	pki := newPKI(t, "backend.example")
	be := alpnBackend(t, pki, "istio")
	ca := &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.caPEM}}
	mesh := verifyingContext(pki, &tlsv3.CertificateValidationContext{TrustedCa: ca})
	mesh.CommonTlsContext.AlpnProtocols = []string{"istio-peer-exchange", "istio"}
	plain := verifyingContext(pki, &tlsv3.CertificateValidationContext{TrustedCa: ca})
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/mesh", "mesh"), prefixRoute("/plain", "plain")))
	_, p, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"mesh": {be}, "plain": {be}},
		edit: map[string]func(*clusterv3.Cluster){
			"mesh":  func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, mesh) },
			"plain": func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, plain) },
		}})
	if d := configOf(t, p); d.LastNACK != nil {
		t.Fatalf("NACK: %+v", d.LastNACK)
	}
	for path, want := range map[string]string{"/mesh": "istio", "/plain": ""} {
		resp := do(t, newClient(), "GET", addr, "svc", path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-ALPN") != want || resp.Header.Get("X-Proto") != "HTTP/1.1" {
			t.Errorf("%s: %d ALPN %q over %q, want 200 %q over HTTP/1.1", path, resp.StatusCode, resp.Header.Get("X-ALPN"), resp.Header.Get("X-Proto"), want)
		}
	}
}

// alpnBackend requires the PKI's client certificate, chooses proto by ALPN when offered (as
// an Istio inbound listener takes "istio") and then speaks HTTP/1.1, answering with the
// protocol negotiated.
func alpnBackend(t *testing.T, pki *testPKI, proto string) *httptest.Server {
	s := mtlsBackend(t, pki, "secure")
	s.Close()
	s = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-ALPN", r.TLS.NegotiatedProtocol)
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("Connection", "close") // ends the connection's own server below
	}))
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		NextProtos: []string{proto, "http/1.1"}}
	// net/http closes a connection whose ALPN protocol it has no handler for: serve HTTP/1.1 on it.
	s.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
		proto: func(srv *http.Server, c *tls.Conn, h http.Handler) {
			l := &oneConnListener{done: make(chan struct{})}
			l.c = &closingConn{Conn: c, l: l}
			(&http.Server{Handler: h}).Serve(l)
		},
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if c := l.c; c != nil {
		l.c = nil
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

// closingConn closes its listener with it, so the server serving it returns.
type closingConn struct {
	net.Conn
	l *oneConnListener
}

func (c *closingConn) Close() error {
	c.l.Close()
	return c.Conn.Close()
}
