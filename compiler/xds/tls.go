package xds

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	xdstype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// tlsSocketName is Envoy's TLS transport socket.
const tlsSocketName = "envoy.transport_sockets.tls"

// tlsTransportSocket originates TLS upstream with certificates read from files, as a
// DestinationRule's clientCertificate/privateKey/caCertificates paths say, or verifying the
// server against the proxy machine's trusted roots when no CA file is named.
func tlsTransportSocket(t *ir.TLS) (*core.TransportSocket, error) {
	common := &tls.CommonTlsContext{}
	if t.ClientCertificate != "" {
		common.TlsCertificates = []*tls.TlsCertificate{{
			CertificateChain: fileSource(t.ClientCertificate),
			PrivateKey:       fileSource(t.PrivateKey),
		}}
	}
	if vc := validationContext(t); vc != nil {
		common.ValidationContextType = &tls.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	common.AlpnProtocols = t.ALPN
	if t.MinVersion != "" || t.MaxVersion != "" {
		common.TlsParams = &tls.TlsParameters{
			TlsMinimumProtocolVersion: tlsVersion(t.MinVersion, tls.TlsParameters_TLS_AUTO),
			TlsMaximumProtocolVersion: tlsVersion(t.MaxVersion, tls.TlsParameters_TLS_AUTO),
		}
	}
	cfg, err := pack(&tls.UpstreamTlsContext{Sni: t.SNI, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &core.TransportSocket{Name: tlsSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: cfg}}, nil
}

// downstreamTLSSocket terminates TLS on a gateway listener as Istio configures its HTTPS
// servers: the certificate and key from files, HTTP/2 or HTTP/1.1 by ALPN, TLS 1.2 at least
// unless the server says otherwise, and client certificates verified against the CA file
// (required with MUTUAL).
func downstreamTLSSocket(t *ir.ServerTLS) (*core.TransportSocket, error) {
	common := &tls.CommonTlsContext{
		TlsCertificates: []*tls.TlsCertificate{{
			CertificateChain: fileSource(t.CertificateChain),
			PrivateKey:       fileSource(t.PrivateKey),
		}},
		AlpnProtocols: []string{"h2", "http/1.1"},
		TlsParams: &tls.TlsParameters{
			TlsMinimumProtocolVersion: tlsVersion(t.MinVersion, tls.TlsParameters_TLSv1_2),
			TlsMaximumProtocolVersion: tlsVersion(t.MaxVersion, tls.TlsParameters_TLS_AUTO),
			CipherSuites:              t.CipherSuites,
		},
	}
	if t.CACertificates != "" {
		vc := &tls.CertificateValidationContext{TrustedCa: fileSource(t.CACertificates)}
		vc.MatchTypedSubjectAltNames = sanMatchers(t.SubjectAltNames)
		common.ValidationContextType = &tls.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	cfg, err := pack(&tls.DownstreamTlsContext{
		CommonTlsContext:         common,
		RequireClientCertificate: wrapperspb.Bool(t.RequireClientCertificate),
	})
	if err != nil {
		return nil, err
	}
	return &core.TransportSocket{Name: tlsSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: cfg}}, nil
}

// tlsVersion maps Istio's protocol version names to Envoy's; empty is def.
func tlsVersion(v string, def tls.TlsParameters_TlsProtocol) tls.TlsParameters_TlsProtocol {
	switch v {
	case "TLS_AUTO":
		return tls.TlsParameters_TLS_AUTO
	case "TLSV1_0":
		return tls.TlsParameters_TLSv1_0
	case "TLSV1_1":
		return tls.TlsParameters_TLSv1_1
	case "TLSV1_2":
		return tls.TlsParameters_TLSv1_2
	case "TLSV1_3":
		return tls.TlsParameters_TLSv1_3
	}
	return def
}

// validationContext says how the server's certificate is verified: against the CA file, or
// the system's roots; nil (no verification) only when insecureSkipVerify asked for it.
func validationContext(t *ir.TLS) *tls.CertificateValidationContext {
	var vc *tls.CertificateValidationContext
	switch {
	case t.InsecureSkipVerify:
		return nil
	case t.CACertificates != "":
		vc = &tls.CertificateValidationContext{TrustedCa: fileSource(t.CACertificates)}
	case t.SystemRoots:
		vc = &tls.CertificateValidationContext{SystemRootCerts: &tls.CertificateValidationContext_SystemRootCerts{}}
	default:
		return nil
	}
	vc.MatchTypedSubjectAltNames = sanMatchers(t.SubjectAltNames)
	return vc
}

// sanMatchers match a certificate's subject alt names exactly: a URI (a SPIFFE id) or a DNS name.
func sanMatchers(sans []string) []*tls.SubjectAltNameMatcher {
	var out []*tls.SubjectAltNameMatcher
	for _, san := range sans {
		typ := tls.SubjectAltNameMatcher_DNS
		if strings.Contains(san, "://") {
			typ = tls.SubjectAltNameMatcher_URI
		}
		out = append(out, &tls.SubjectAltNameMatcher{
			SanType: typ,
			Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: san}},
		})
	}
	return out
}

func fileSource(path string) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: path}}
}

func percent(v float64) *xdstype.Percent { return &xdstype.Percent{Value: v} }
