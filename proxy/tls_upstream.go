package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// An UpstreamTlsContext becomes the crypto/tls client configuration of a cluster's upstream
// connections; what of it the proxy cannot honour is a NACK naming the field.

const tlsTransportSocketName = "envoy.transport_sockets.tls"

// decodeTransportSocket builds the client TLS configuration of an UpstreamTlsContext.
func decodeTransportSocket(p fieldPath, ts *core.TransportSocket) (*tls.Config, error) {
	if ts == nil {
		return nil, nil
	}
	var u tlsv3.UpstreamTlsContext
	p, err := unpackTLSSocket(p, ts, &u)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(p, &u, "common_tls_context", "sni"); err != nil {
		return nil, err
	}
	cfg := &tls.Config{ServerName: u.GetSni(), MinVersion: tls.VersionTLS12}
	ctx := u.GetCommonTlsContext()
	cp := p.field("common_tls_context")
	if err := onlyFields(cp, ctx, "tls_params", "tls_certificates", "validation_context", "combined_validation_context", "alpn_protocols"); err != nil {
		return nil, err
	}
	if err := decodeTLSParams(cp, ctx, cfg); err != nil {
		return nil, err
	}
	// ALPN: the protocols offered, in order, as Envoy offers them (Istio's ISTIO_MUTUAL offers
	// istio-peer-exchange and istio, by which its inbound listeners pick their mTLS chains). The
	// cluster's protocol options still decide HTTP/1.1 or h2; an h2 transport adds h2 to the
	// offer when the list lacks it.
	cfg.NextProtos = slices.Clone(ctx.GetAlpnProtocols())
	certs, err := decodeCertificates(cp, ctx)
	if err != nil {
		return nil, err
	}
	cfg.Certificates = certs
	vc, vp := ctx.GetValidationContext(), cp.field("validation_context")
	if cc := ctx.GetCombinedValidationContext(); cc != nil {
		vp = cp.field("combined_validation_context")
		if err := onlyFields(vp, cc, "default_validation_context"); err != nil {
			return nil, err
		}
		vc, vp = cc.GetDefaultValidationContext(), vp.field("default_validation_context")
	}
	if vc == nil {
		// Without a validation context Envoy does not verify the upstream's certificate.
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	roots, sans, err := decodeValidationContext(vp, vc, "system_root_certs")
	if err != nil {
		return nil, err
	}
	// Verify ourselves: Envoy checks the chain against trusted_ca and the SANs against the
	// matchers, not the SNI against the certificate's names.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPeer(cs.PeerCertificates, roots, sans, "upstream")
	}
	return cfg, nil
}

// tlsContext is what a TLS transport socket carries: an UpstreamTlsContext or a
// DownstreamTlsContext.
type tlsContext interface {
	proto.Message
	ValidateAll() error
}

// unpackTLSSocket checks a TLS transport socket and unpacks its typed config into m, returning
// the path of the typed config.
func unpackTLSSocket(p fieldPath, ts *core.TransportSocket, m tlsContext) (fieldPath, error) {
	if err := onlyFields(p, ts, "name", "typed_config"); err != nil {
		return p, err
	}
	tc := ts.GetTypedConfig()
	if tc.GetTypeUrl() != typeURLOf(m) {
		return p, p.field("typed_config").errorf("type %q is not supported: only %s (%s) is", tc.GetTypeUrl(), typeURLOf(m), tlsTransportSocketName)
	}
	p = p.field("typed_config")
	if err := tc.UnmarshalTo(m); err != nil {
		return p, p.errorf("%v", err)
	}
	return p, validateAll(p, m)
}

// decodeTLSParams applies tls_params' protocol versions (and, for a server, cipher suites).
func decodeTLSParams(cp fieldPath, ctx *tlsv3.CommonTlsContext, cfg *tls.Config) error {
	tp := ctx.GetTlsParams()
	if tp == nil {
		return nil
	}
	pp := cp.field("tls_params")
	if err := onlyFields(pp, tp, "tls_minimum_protocol_version", "tls_maximum_protocol_version", "cipher_suites"); err != nil {
		return err
	}
	versions := map[tlsv3.TlsParameters_TlsProtocol]uint16{
		tlsv3.TlsParameters_TLSv1_0: tls.VersionTLS10, tlsv3.TlsParameters_TLSv1_1: tls.VersionTLS11,
		tlsv3.TlsParameters_TLSv1_2: tls.VersionTLS12, tlsv3.TlsParameters_TLSv1_3: tls.VersionTLS13,
	}
	if v, ok := versions[tp.GetTlsMinimumProtocolVersion()]; ok {
		cfg.MinVersion = v
	}
	if v, ok := versions[tp.GetTlsMaximumProtocolVersion()]; ok {
		cfg.MaxVersion = v
	}
	for i, name := range tp.GetCipherSuites() {
		id, ok := cipherSuites[name]
		if !ok {
			return pp.field("cipher_suites").index(i).errorf("%q is not a cipher suite this proxy offers (TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3's are always on)", name)
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	return nil
}

// cipherSuites are Envoy's (BoringSSL's) names of the TLS 1.2 suites crypto/tls offers and
// does not consider insecure.
var cipherSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// decodeCertificates loads tls_certificates: each a certificate chain and its private key.
func decodeCertificates(cp fieldPath, ctx *tlsv3.CommonTlsContext) ([]tls.Certificate, error) {
	var out []tls.Certificate
	for i, c := range ctx.GetTlsCertificates() {
		tp := cp.field("tls_certificates").index(i)
		if err := onlyFields(tp, c, "certificate_chain", "private_key"); err != nil {
			return nil, err
		}
		chain, err := dataSource(tp.field("certificate_chain"), c.GetCertificateChain())
		if err != nil {
			return nil, err
		}
		key, err := dataSource(tp.field("private_key"), c.GetPrivateKey())
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(chain, key)
		if err != nil {
			return nil, tp.errorf("%v", err)
		}
		out = append(out, pair)
	}
	return out, nil
}

// decodeValidationContext reads what a peer's certificate is verified against: the roots
// (trusted_ca, or the fields extra name) and the SANs its leaf must match.
func decodeValidationContext(vp fieldPath, vc *tlsv3.CertificateValidationContext, extra ...string) (*x509.CertPool, []sanMatcher, error) {
	if err := onlyFields(vp, vc, append([]string{"trusted_ca", "match_typed_subject_alt_names"}, extra...)...); err != nil {
		return nil, nil, err
	}
	roots, err := trustedRoots(vp, vc)
	if err != nil {
		return nil, nil, err
	}
	sans, err := decodeSANMatchers(vp, vc)
	if err != nil {
		return nil, nil, err
	}
	return roots, sans, nil
}

// decodeSANMatchers reads match_typed_subject_alt_names.
func decodeSANMatchers(vp fieldPath, vc *tlsv3.CertificateValidationContext) ([]sanMatcher, error) {
	var sans []sanMatcher
	for i, m := range vc.GetMatchTypedSubjectAltNames() {
		mp := vp.field("match_typed_subject_alt_names").index(i)
		if err := onlyFields(mp, m, "san_type", "matcher"); err != nil {
			return nil, err
		}
		sm, err := decodeStringMatcher(mp.field("matcher"), m.GetMatcher())
		if err != nil {
			return nil, err
		}
		sans = append(sans, sanMatcher{typ: m.GetSanType(), m: sm})
	}
	return sans, nil
}

// verifyPeer checks a peer's chain against roots and its leaf against the SAN matchers (any
// one), as Envoy's validation context does.
func verifyPeer(chain []*x509.Certificate, roots *x509.CertPool, sans []sanMatcher, who string) error {
	if len(chain) == 0 {
		return fmt.Errorf("%s sent no certificate", who)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(opts); err != nil {
		return err
	}
	if len(sans) == 0 {
		return nil
	}
	for _, s := range sans {
		if s.matches(leaf) {
			return nil
		}
	}
	return fmt.Errorf("%s certificate matches none of the subject alt names wanted", who)
}

// trustedRoots is the pool an upstream's chain must lead to: trusted_ca, or the machine's
// trusted roots when only system_root_certs is set (Envoy ignores system_root_certs when
// trusted_ca is set). The system pool is read here so a machine without one is a NACK naming
// the field, not every request failing.
func trustedRoots(vp fieldPath, vc *tlsv3.CertificateValidationContext) (*x509.CertPool, error) {
	if vc.GetTrustedCa() == nil {
		if vc.GetSystemRootCerts() == nil {
			return nil, vp.field("trusted_ca").errorf("required to verify the upstream, or system_root_certs")
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			return nil, vp.field("system_root_certs").errorf("reading the system's trusted roots: %v", err)
		}
		if roots.Equal(x509.NewCertPool()) {
			return nil, vp.field("system_root_certs").errorf("this machine has no trusted roots (see SSL_CERT_FILE, SSL_CERT_DIR)")
		}
		return roots, nil
	}
	pem, err := dataSource(vp.field("trusted_ca"), vc.GetTrustedCa())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, vp.field("trusted_ca").errorf("no PEM certificate found")
	}
	return roots, nil
}

type sanMatcher struct {
	typ tlsv3.SubjectAltNameMatcher_SanType
	m   stringMatcher
}

func (s sanMatcher) matches(c *x509.Certificate) bool {
	var names []string
	switch s.typ {
	case tlsv3.SubjectAltNameMatcher_DNS:
		names = c.DNSNames
	case tlsv3.SubjectAltNameMatcher_URI:
		for _, u := range c.URIs {
			names = append(names, u.String())
		}
	case tlsv3.SubjectAltNameMatcher_EMAIL:
		names = c.EmailAddresses
	case tlsv3.SubjectAltNameMatcher_IP_ADDRESS:
		for _, ip := range c.IPAddresses {
			names = append(names, ip.String())
		}
	}
	for _, n := range names {
		if s.m.match(n) || (s.typ == tlsv3.SubjectAltNameMatcher_DNS && wildcardDNSMatch(n, &s.m)) {
			return true
		}
	}
	return false
}

// wildcardDNSMatch lets a certificate's "*.example.com" satisfy an exact "a.example.com".
func wildcardDNSMatch(certName string, m *stringMatcher) bool {
	if m.kind != strExact || !strings.HasPrefix(certName, "*.") {
		return false
	}
	_, rest, ok := strings.Cut(m.s, ".")
	return ok && strings.EqualFold(rest, certName[2:])
}

func dataSource(p fieldPath, d *core.DataSource) ([]byte, error) {
	if d == nil {
		return nil, p.errorf("required")
	}
	switch s := d.GetSpecifier().(type) {
	case *core.DataSource_Filename:
		b, err := os.ReadFile(s.Filename)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.field("filename"), err) // keeps fs.ErrNotExist
		}
		return b, nil
	case *core.DataSource_InlineString:
		return []byte(s.InlineString), nil
	case *core.DataSource_InlineBytes:
		return s.InlineBytes, nil
	}
	return nil, p.errorf("one of filename, inline_string, inline_bytes is required")
}
