package xds

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	xdstype "github.com/envoyproxy/go-control-plane/envoy/type/v3"

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
	cfg, err := pack(&tls.UpstreamTlsContext{Sni: t.SNI, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &core.TransportSocket{Name: tlsSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: cfg}}, nil
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
	for _, san := range t.SubjectAltNames {
		typ := tls.SubjectAltNameMatcher_DNS
		if strings.Contains(san, "://") {
			typ = tls.SubjectAltNameMatcher_URI
		}
		vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tls.SubjectAltNameMatcher{
			SanType: typ,
			Matcher: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: san}},
		})
	}
	return vc
}

func fileSource(path string) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: path}}
}

func percent(v float64) *xdstype.Percent { return &xdstype.Percent{Value: v} }
