package proxy

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
