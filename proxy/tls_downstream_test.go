package proxy

import (
	"path/filepath"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A listener's TLS the proxy cannot set up is a NACK naming the field, read when the listener
// is applied: a missing certificate file, an ALPN protocol it does not speak, a cipher suite it
// does not offer, client certificates required with nothing to verify them against.
func TestDownstreamTLSRejects(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	file := func(p string) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: p}}
	}
	socket := func(d *tlsv3.DownstreamTlsContext) *core.TransportSocket {
		return &core.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(d)}}
	}
	certs := []*tlsv3.TlsCertificate{{CertificateChain: file(missing), PrivateKey: file(missing)}}
	pki := newPKI(t, "shop.example.com")
	inline := func(b []byte) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
	}
	good := []*tlsv3.TlsCertificate{{CertificateChain: inline(pki.clientCertPEM), PrivateKey: inline(pki.clientKeyPEM)}}
	for want, d := range map[string]*tlsv3.DownstreamTlsContext{
		"common_tls_context.tls_certificates[0].certificate_chain.filename: open " + missing: {
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsCertificates: certs}},
		"common_tls_context.tls_certificates: a server needs a certificate": {
			CommonTlsContext: &tlsv3.CommonTlsContext{}},
		"common_tls_context.tls_params.cipher_suites[0]: \"RC4-SHA\" is not a cipher suite": {
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsParams: &tlsv3.TlsParameters{CipherSuites: []string{"RC4-SHA"}}}},
		"common_tls_context.validation_context: required to verify the client certificates": {
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsCertificates: good}, RequireClientCertificate: wrapperspb.Bool(true)},
		"common_tls_context.alpn_protocols[0]: \"spdy/3\" is not supported": {
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsCertificates: good, AlpnProtocols: []string{"spdy/3"}}},
		"require_sni: field not supported": {
			CommonTlsContext: &tlsv3.CommonTlsContext{}, RequireSni: wrapperspb.Bool(true)},
	} {
		_, err := decodeDownstreamTLS("transport_socket", socket(d))
		if err == nil || !strings.Contains(err.Error(), "transport_socket.typed_config."+want) {
			t.Errorf("got %v, want an error with %q", err, want)
		}
	}
}
