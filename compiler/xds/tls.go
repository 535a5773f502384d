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
// DestinationRule's clientCertificate/privateKey/caCertificates paths say.
func tlsTransportSocket(t *ir.TLS) (*core.TransportSocket, error) {
	common := &tls.CommonTlsContext{}
	if t.ClientCertificate != "" {
		common.TlsCertificates = []*tls.TlsCertificate{{
			CertificateChain: fileSource(t.ClientCertificate),
			PrivateKey:       fileSource(t.PrivateKey),
		}}
	}
	if !t.InsecureSkipVerify && t.CACertificates != "" {
		vc := &tls.CertificateValidationContext{TrustedCa: fileSource(t.CACertificates)}
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
		common.ValidationContextType = &tls.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	cfg, err := pack(&tls.UpstreamTlsContext{Sni: t.SNI, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &core.TransportSocket{Name: tlsSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: cfg}}, nil
}

func fileSource(path string) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: path}}
}

func percent(v float64) *xdstype.Percent { return &xdstype.Percent{Value: v} }
