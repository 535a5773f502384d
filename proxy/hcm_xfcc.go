package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
	"sync/atomic"
	"unicode/utf8"

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
		parts = append(parts, `Subject="`+subjectRFC2253(leaf)+`"`)
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

// subjectRFC2253 is the certificate's subject as Envoy prints it (X509_NAME_print_ex with
// XN_FLAG_RFC2253): the RDNs of its own sequence, last first, each RDN's attributes last first
// and joined by "+", OpenSSL's short attribute names (the dotted OID for others), values
// escaped as RFC 2253 asks and every byte of their UTF-8 outside printable ASCII as \XX; a
// value that is not a string, or of an attribute without a name, is "#" and its DER in hex.
// crypto/x509's Name.String puts the attributes in an order of its own, not the certificate's.
func subjectRFC2253(cert *x509.Certificate) string {
	var seq []rawRDNSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) > 0 {
		return cert.Subject.String() // crypto/x509 parsed it; this cannot happen
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		for j := len(seq[i]) - 1; j >= 0; j-- {
			switch {
			case j < len(seq[i])-1:
				b.WriteByte('+')
			case i < len(seq)-1:
				b.WriteByte(',')
			}
			writeAttributeRFC2253(&b, seq[i][j])
		}
	}
	return b.String()
}

// rawRDNSET is one RDN with its values as encoded (the name ends in SET for encoding/asn1).
type rawRDNSET []rawAttribute

type rawAttribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// opensslShortNames are OpenSSL's (and BoringSSL's) short names of the attributes subjects
// carry.
var opensslShortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title",
	"2.5.4.13": "description", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
	"2.5.4.41": "name", "2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
	"2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionL",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionC",
}

func writeAttributeRFC2253(b *strings.Builder, a rawAttribute) {
	name, known := opensslShortNames[a.Type.String()]
	if !known {
		name = a.Type.String()
	}
	b.WriteString(name)
	b.WriteByte('=')
	text, ok := attributeText(a.Value)
	if !known || !ok {
		b.WriteByte('#')
		b.WriteString(strings.ToUpper(hex.EncodeToString(a.Value.FullBytes)))
		return
	}
	for i, c := range text {
		switch {
		case c < 0x20 || c > 0x7e:
			b.WriteByte('\\')
			b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
		case strings.IndexByte(`\",+<>;`, c) >= 0, i == 0 && (c == ' ' || c == '#'), i == len(text)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

// attributeText is a string value in UTF-8, as OpenSSL converts it: the types of one byte a
// character (read as Latin-1), UTF8String, BMPString and UniversalString; false for others.
func attributeText(v asn1.RawValue) ([]byte, bool) {
	if v.Class != asn1.ClassUniversal {
		return nil, false
	}
	const visibleString, universalString = 26, 28
	var text []byte
	switch v.Tag {
	case asn1.TagUTF8String:
		return v.Bytes, true
	case asn1.TagNumericString, asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String, visibleString, asn1.TagUTCTime, asn1.TagGeneralizedTime:
		for _, c := range v.Bytes {
			text = utf8.AppendRune(text, rune(c))
		}
	case asn1.TagBMPString, universalString:
		size := 2
		if v.Tag == universalString {
			size = 4
		}
		if len(v.Bytes)%size != 0 {
			return nil, false
		}
		for i := 0; i < len(v.Bytes); i += size {
			if size == 2 {
				text = utf8.AppendRune(text, rune(binary.BigEndian.Uint16(v.Bytes[i:])))
			} else {
				text = utf8.AppendRune(text, rune(binary.BigEndian.Uint32(v.Bytes[i:])))
			}
		}
	default:
		return nil, false
	}
	return text, true
}
