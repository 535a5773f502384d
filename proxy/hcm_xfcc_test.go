package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"
)

// The Subject of x-forwarded-client-cert (and the subject RBAC principals fall back to) is the
// certificate's subject as Envoy prints it: X509_NAME_print_ex with XN_FLAG_RFC2253, which is
// what `openssl x509 -noout -subject -nameopt RFC2253` prints too.

// certWithSubject is a self-signed certificate whose subject is seq, encoded as given.
func certWithSubject(t *testing.T, seq []rawRDNSET) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: raw, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// attr is one attribute of type oid whose value has the ASN.1 tag and content given.
func attr(oid asn1.ObjectIdentifier, tag int, content []byte) rawAttribute {
	return rawAttribute{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: content}}
}

func rdn(a ...rawAttribute) rawRDNSET { return a }

var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidOther = asn1.ObjectIdentifier{1, 2, 3, 4}
)

// TestSubjectRFC2253: the certificate's own RDN order, last first (Istio's secure-ingress task
// writes its client certificate /CN=client.example.com/O=client organization, and Envoy sends
// O=client organization,CN=client.example.com; crypto/x509's Name.String reorders them);
// multi-valued RDNs last first too; OpenSSL's names, escapes and hex dumps. The expected
// strings are what openssl prints for the same certificates.
func TestSubjectRFC2253(t *testing.T) {
	utf8s := func(oid asn1.ObjectIdentifier, v string) rawAttribute {
		return attr(oid, asn1.TagUTF8String, []byte(v))
	}
	for _, tc := range []struct {
		name string
		seq  []rawRDNSET
		want string
	}{
		{"Istio's client certificate", []rawRDNSET{rdn(utf8s(oidCN, "client.example.com")), rdn(utf8s(oidO, "client organization"))},
			"O=client organization,CN=client.example.com"},
		{"organization first", []rawRDNSET{rdn(utf8s(oidO, "client organization")), rdn(utf8s(oidCN, "client.example.com"))},
			"CN=client.example.com,O=client organization"},
		{"names, escapes and dumps", []rawRDNSET{
			rdn(attr(oidDC, asn1.TagIA5String, []byte("com"))), rdn(attr(oidDC, asn1.TagIA5String, []byte("example"))),
			rdn(attr(oidC, asn1.TagPrintableString, []byte("DE"))),
			rdn(utf8s(oidO, `Soci\été, "Grün" <a;b>=c`)),
			rdn(utf8s(oidOU, "x"), utf8s(oidCN, " #lead+trail\x01 ")),
			rdn(attr(oidEmail, asn1.TagIA5String, []byte("a@b.c"))),
			rdn(utf8s(oidOther, "zz")),
			rdn(attr(oidCN, asn1.TagBMPString, []byte{0, 'h', 0, 0xe9})),
			rdn(attr(oidCN, asn1.TagT61String, []byte{'t', 0xe9})),
		}, `CN=t\C3\A9,CN=h\C3\A9,1.2.3.4=#0C027A7A,emailAddress=a@b.c,CN=\ #lead\+trail\01\ +OU=x,O=Soci\\\C3\A9t\C3\A9\, \"Gr\C3\BCn\" \<a\;b\>=c,C=DE,DC=example,DC=com`},
	} {
		if got := subjectRFC2253(certWithSubject(t, tc.seq)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestClientCertElementSubject: the Subject of this hop's x-forwarded-client-cert element,
// and the subject an RBAC principal is matched against, keep the certificate's order.
func TestClientCertElementSubject(t *testing.T) {
	leaf := certWithSubject(t, []rawRDNSET{
		rdn(attr(oidCN, asn1.TagUTF8String, []byte("client.example.com"))),
		rdn(attr(oidO, asn1.TagUTF8String, []byte("client organization"))),
	})
	const want = "O=client organization,CN=client.example.com"
	if got := clientCertElement([]*x509.Certificate{leaf}, xfccConfig{subject: true}); !strings.HasSuffix(got, `;Subject="`+want+`"`) {
		t.Errorf("element %s, want the Subject %q", got, want)
	}
	cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	for subject, match := range map[string]bool{want: true, "CN=client.example.com,O=client organization": false} {
		m := &rbacMatcher{hasStr: true, str: stringMatcher{kind: strExact, s: subject}}
		if got := m.authenticated(cs); got != match {
			t.Errorf("principal_name %q matched %v, want %v", subject, got, match)
		}
	}
}
