package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
	"sync/atomic"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// x-forwarded-client-cert, as Envoy's connection manager sets it (forward_client_cert_details,
// set_current_client_cert_details).

// xfccConfig is forward_client_cert_details with set_current_client_cert_details.
type xfccConfig struct {
	mode                               hcmv3.HttpConnectionManager_ForwardClientCertDetails
	subject, cert, chain, uri, dnsSans bool
}

// setClientCert applies forward_client_cert_details to a request that kept its
// x-forwarded-client-cert past cleanRequestHeaders (any mode but SANITIZE) or may get one
// (APPEND_FORWARD, SANITIZE_SET), as Envoy's mutateXfccRequestHeader does: only
// ALWAYS_FORWARD_ONLY keeps the field of a connection without a client certificate; with
// one, FORWARD_ONLY keeps it as sent, APPEND_FORWARD appends this hop's element and
// SANITIZE_SET replaces it with that element.
func setClientCert(w http.ResponseWriter, r *http.Request, c xfccConfig, had bool) {
	switch c.mode {
	case hcmv3.HttpConnectionManager_SANITIZE, hcmv3.HttpConnectionManager_ALWAYS_FORWARD_ONLY:
		return
	}
	var peer []*x509.Certificate
	if r.TLS != nil {
		if cs := tlsStateOf(requestConn(w, r), r); cs != nil {
			peer = cs.PeerCertificates
		}
	}
	if len(peer) == 0 {
		if had {
			delete(r.Header, xfccKey)
		}
		return
	}
	switch c.mode {
	case hcmv3.HttpConnectionManager_APPEND_FORWARD:
		if prior := r.Header[xfccKey]; len(prior) > 0 {
			r.Header[xfccKey] = []string{strings.Join(prior, ",") + "," + connClientCertElement(w, r, peer, c)}
			return
		}
		r.Header[xfccKey] = []string{connClientCertElement(w, r, peer, c)}
	case hcmv3.HttpConnectionManager_SANITIZE_SET:
		r.Header[xfccKey] = []string{connClientCertElement(w, r, peer, c)}
	}
}

// xfccElement is a connection's x-forwarded-client-cert element, made for its first request:
// the client's certificate does not change within a connection, and hashing and encoding it
// costs microseconds.
type xfccElement struct {
	leaf    *x509.Certificate
	cfg     xfccConfig
	element string
}

// connClientCertElement is clientCertElement, kept with the request's connection (the lean
// server's, or the one net/http's server serves, whose HTTP/2 streams share it).
func connClientCertElement(w http.ResponseWriter, r *http.Request, peer []*x509.Certificate, c xfccConfig) string {
	var slot *atomic.Pointer[xfccElement]
	if hw, ok := w.(*h1Writer); ok && hw.c != nil {
		slot = &hw.c.xfcc
	} else if ci, _ := r.Context().Value(connInfoKey{}).(*connInfo); ci != nil {
		slot = &ci.xfcc
	}
	if slot != nil {
		if e := slot.Load(); e != nil && e.leaf == peer[0] && e.cfg == c {
			return e.element
		}
	}
	element := clientCertElement(peer, c)
	if slot != nil {
		slot.Store(&xfccElement{leaf: peer[0], cfg: c, element: element})
	}
	return element
}

// clientCertElement is this hop's x-forwarded-client-cert element for the client's chain, in
// Envoy's order: Hash (SHA-256 of the certificate, hex), then Cert, Chain, Subject, URI and
// DNS as set_current_client_cert_details asks. Envoy also leads with By= (its own
// certificate's URI SANs); the certificates gateways serve carry none, so it is left out.
func clientCertElement(chain []*x509.Certificate, c xfccConfig) string {
	leaf := chain[0]
	sum := sha256.Sum256(leaf.Raw)
	parts := []string{"Hash=" + hex.EncodeToString(sum[:])}
	if c.cert {
		parts = append(parts, `Cert="`+pemURLEncoded(leaf)+`"`)
	}
	if c.chain {
		var b strings.Builder
		for _, cert := range chain {
			b.WriteString(pemURLEncoded(cert))
		}
		parts = append(parts, `Chain="`+b.String()+`"`)
	}
	if c.subject {
		parts = append(parts, `Subject="`+leaf.Subject.String()+`"`)
	}
	if c.uri {
		if len(leaf.URIs) == 0 {
			parts = append(parts, "URI=")
		}
		for _, u := range leaf.URIs {
			parts = append(parts, "URI="+u.String())
		}
	}
	if c.dnsSans {
		for _, d := range leaf.DNSNames {
			parts = append(parts, "DNS="+d)
		}
	}
	return strings.Join(parts, ";")
}

// pemURLEncoded is the certificate's PEM with the characters Envoy escapes in it
// (newline, space, +, / and =) percent-encoded.
func pemURLEncoded(cert *x509.Certificate) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return pemEscapes.Replace(string(p))
}

var pemEscapes = strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D")
