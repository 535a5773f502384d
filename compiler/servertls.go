package compiler

import (
	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// serverTLS is the TLS a Gateway server terminates (nil for plain text), and false when it asks
// what signalbox cannot do, which is reported at the field. Certificates come from files on the
// gateway proxy's machine (serverCertificate, privateKey, caCertificates), as Istio reads them
// when a gateway mounts them; credentialName names a Kubernetes Secret, which signalbox has not.
func (b *builder) serverTLS(d *schema.Document, path string, srv schema.Server) (*ir.ServerTLS, bool) {
	t := srv.TLS
	if srv.Port.Protocol != "HTTPS" || t == nil {
		return nil, true // plain text; the schema allows only httpsRedirect there
	}
	ok := true
	switch t.Mode {
	case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL":
	default:
		b.unsupportedf(d, path+".mode", "mode %s: gateway listeners terminate TLS (SIMPLE, MUTUAL or OPTIONAL_MUTUAL)", t.Mode)
		ok = false
	}
	if t.CredentialName != "" || len(t.CredentialNames) > 0 {
		b.unsupportedf(d, path+".credentialName", "signalbox reads no Kubernetes Secrets: set serverCertificate and privateKey to files on the gateway's machine")
		ok = false
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"tlsCertificates", len(t.TLSCertificates) > 0},
		{"caCrl", t.CACrl != ""},
		{"verifyCertificateSpki", len(t.VerifyCertificateSpki) > 0},
		{"verifyCertificateHash", len(t.VerifyCertificateHash) > 0},
	} {
		if f.set {
			b.unsupported(d, path+"."+f.name)
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	return &ir.ServerTLS{
		CertificateChain:         t.ServerCertificate,
		PrivateKey:               t.PrivateKey,
		CACertificates:           t.CACertificates,
		RequireClientCertificate: t.Mode == "MUTUAL",
		SubjectAltNames:          t.SubjectAltNames,
		MinVersion:               t.MinProtocolVersion,
		MaxVersion:               t.MaxProtocolVersion,
		CipherSuites:             t.CipherSuites,
	}, true
}
