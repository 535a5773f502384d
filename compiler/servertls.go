package compiler

import (
	gopath "path"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// serverTLS is the TLS a Gateway server terminates (nil for plain text), and false when it asks
// what signalbox cannot do, which is reported at the field. Certificates come from files on the
// gateway proxy's machine (serverCertificate, privateKey, caCertificates), as Istio reads them
// when a gateway mounts them, or (credentialName) from the directory of that name under the
// settings' credentialsDir, where the Kubernetes Secret would be mounted (credentialFiles);
// with ISTIO_MUTUAL, the mesh's certificates of the settings' meshCertificates.
func (b *builder) serverTLS(d *schema.Document, path string, srv schema.Server) (*ir.ServerTLS, bool) {
	t := srv.TLS
	if srv.Port.Protocol != "HTTPS" || t == nil {
		return nil, true // plain text; the schema allows only httpsRedirect there
	}
	ok := true
	files := serverFiles{cert: t.ServerCertificate, key: t.PrivateKey, ca: t.CACertificates}
	switch t.Mode {
	case "SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL":
	case "ISTIO_MUTUAL":
		// Istio serves the gateway's workload certificate and requires a client certificate
		// from the mesh's CA (its buildGatewayListenerTLSContext): here the mesh's files.
		mc := b.tree.Settings.MeshCertificates
		if mc == nil {
			b.unsupportedf(d, path+".mode", "ISTIO_MUTUAL needs the mesh's certificates, which Istio's certificate authority issues: "+
				"set meshCertificates (certificateChain, privateKey, caCertificates: files on the proxies' machines) in signalbox.yaml")
			ok = false
			break
		}
		files = serverFiles{cert: mc.CertificateChain, key: mc.PrivateKey, ca: mc.CACertificates}
	default:
		b.unsupportedf(d, path+".mode", "mode %s: gateway listeners terminate TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL)", t.Mode)
		ok = false
	}
	switch {
	case len(t.CredentialNames) > 0:
		b.unsupportedf(d, path+".credentialNames", "several certificates per server: give the server one credentialName")
		ok = false
	case t.CredentialName != "":
		cred, found := b.credentialFiles(d, path+".credentialName", t.CredentialName)
		if !found {
			ok = false
			break
		}
		files.cert, files.key = cred.cert, cred.key
		if t.Mode != "SIMPLE" && files.ca == "" {
			files.ca = cred.ca // SIMPLE asks for no client certificate, so reads no CA
		}
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
		CertificateChain:         files.cert,
		PrivateKey:               files.key,
		CACertificates:           files.ca,
		RequireClientCertificate: t.Mode == "MUTUAL" || t.Mode == "ISTIO_MUTUAL",
		SubjectAltNames:          t.SubjectAltNames,
		MinVersion:               t.MinProtocolVersion,
		MaxVersion:               t.MaxProtocolVersion,
		CipherSuites:             t.CipherSuites,
	}, true
}

// serverFiles are a server's certificate chain, private key and client CA as files on the
// gateway's machine.
type serverFiles struct{ cert, key, ca string }

// credentialFiles maps a credentialName to files as a Kubernetes TLS Secret mounted as a volume
// lays them out: DIR/NAME/tls.crt, DIR/NAME/tls.key and DIR/NAME/ca.crt (Istio reads a client
// CA from the same Secret's ca.crt). Without credentialsDir in signalbox.yaml there is nowhere
// to look, and the field is refused rather than a listener published without its certificate.
func (b *builder) credentialFiles(d *schema.Document, path, name string) (serverFiles, bool) {
	dir := b.tree.Settings.CredentialsDir
	if dir == "" {
		b.unsupportedf(d, path, "signalbox reads no Kubernetes Secrets: set credentialsDir in signalbox.yaml to where gateways find them mounted (NAME/tls.crt, NAME/tls.key), or serverCertificate and privateKey to files")
		return serverFiles{}, false
	}
	if strings.ContainsAny(name, "/:") || name == "." || name == ".." {
		b.unsupportedf(d, path, "credential %q: only a Secret's plain name maps to a directory under credentialsDir (no namespace, no kubernetes:// form)", name)
		return serverFiles{}, false
	}
	base := gopath.Join(dir, name)
	return serverFiles{cert: gopath.Join(base, "tls.crt"), key: gopath.Join(base, "tls.key"), ca: gopath.Join(base, "ca.crt")}, true
}
