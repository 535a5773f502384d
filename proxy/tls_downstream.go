package proxy

import (
	"crypto/tls"
	"net/http"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// A listener's DownstreamTlsContext becomes the crypto/tls server configuration it terminates
// TLS with (a gateway's HTTPS server); what of it the proxy cannot honour is a NACK naming the
// field. Certificates are read when the listener is applied, so a missing or bad file is a NACK
// too, never a listener that fails every handshake. Those named by file are then followed
// (tls_files.go): a renewed certificate, key or client CA on disk is served without a push.

// decodeDownstreamTLS builds the server TLS configuration of a filter chain's transport socket.
func decodeDownstreamTLS(p fieldPath, ts *core.TransportSocket) (*tls.Config, error) {
	var d tlsv3.DownstreamTlsContext
	p, err := unpackTLSSocket(p, ts, &d)
	if err != nil {
		return nil, err
	}
	if err := onlyFields(p, &d, "common_tls_context", "require_client_certificate"); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	ctx := d.GetCommonTlsContext()
	cp := p.field("common_tls_context")
	if err := onlyFields(cp, ctx, "tls_params", "tls_certificates", "validation_context", "alpn_protocols"); err != nil {
		return nil, err
	}
	if err := decodeTLSParams(cp, ctx, cfg); err != nil {
		return nil, err
	}
	for i, proto := range ctx.GetAlpnProtocols() {
		if proto != "h2" && proto != "http/1.1" {
			return nil, cp.field("alpn_protocols").index(i).errorf("%q is not supported: h2 and http/1.1 are", proto)
		}
		cfg.NextProtos = append(cfg.NextProtos, proto)
	}
	required := d.GetRequireClientCertificate().GetValue()
	vc := ctx.GetValidationContext()
	vp := cp.field("validation_context")
	if vc == nil && required {
		return nil, vp.errorf("required to verify the client certificates require_client_certificate asks for")
	}
	var sans []sanMatcher
	if vc != nil {
		if err := onlyFields(vp, vc, "trusted_ca", "match_typed_subject_alt_names"); err != nil {
			return nil, err
		}
		if sans, err = decodeSANMatchers(vp, vc); err != nil {
			return nil, err
		}
	}
	load := func() (*serverCreds, error) {
		certs, err := decodeCertificates(cp, ctx)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			return nil, cp.field("tls_certificates").errorf("a server needs a certificate")
		}
		c := &serverCreds{certs: certs}
		if vc != nil {
			if c.roots, err = trustedRoots(vp, vc); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	var creds func() *serverCreds
	if paths := downstreamFiles(ctx, vc); len(paths) > 0 {
		files, err := newCredFiles(paths, load)
		if err != nil {
			return nil, err
		}
		registerCredFiles(cfg, files)
		creds = files.current
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return files.current().certificateFor(hello)
		}
	} else {
		c, err := load()
		if err != nil {
			return nil, err
		}
		creds = func() *serverCreds { return c }
		cfg.Certificates = c.certs
	}
	if vc == nil {
		return cfg, nil
	}
	// Verified here, as Envoy does: the chain against trusted_ca, the leaf against the SANs.
	cfg.ClientAuth = tls.RequestClientCert
	if required {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 && !required {
			return nil // OPTIONAL_MUTUAL: no certificate is fine, a bad one is not
		}
		return verifyPeer(cs.PeerCertificates, creds().roots, sans, "client")
	}
	return cfg, nil
}

// downstreamFiles are the files a server's certificates, keys and client CA are read from.
func downstreamFiles(ctx *tlsv3.CommonTlsContext, vc *tlsv3.CertificateValidationContext) []string {
	var paths []string
	add := func(d *core.DataSource) {
		if name := d.GetFilename(); name != "" {
			paths = append(paths, name)
		}
	}
	for _, c := range ctx.GetTlsCertificates() {
		add(c.GetCertificateChain())
		add(c.GetPrivateKey())
	}
	add(vc.GetTrustedCa())
	return paths
}

// overTLS is what the requests of a TLS listener carry as r.TLS: the lean server and the h2
// server see the connection beneath TLS, and only whether the request came over TLS is asked
// (the :scheme match, redirects, require_tls, x-forwarded-proto).
var overTLS = &tls.ConnectionState{HandshakeComplete: true}

// protoHTTPS is x-forwarded-proto for requests that arrived over TLS.
var protoHTTPS = []string{"https"}

// tlsRequests marks every request of a TLS listener as arriving over TLS (which
// forwardedHeaders turns into X-Forwarded-Proto: https).
type tlsRequests struct{ next http.Handler }

func (t tlsRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		r.TLS = overTLS
	}
	t.next.ServeHTTP(w, r)
}
