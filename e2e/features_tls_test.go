package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a throwaway certificate authority with a server and a client certificate, written as
// PEM files the way a DestinationRule names them.
type pki struct {
	dir                     string
	serverCert              tls.Certificate
	serverFile, serverKFile string // the server certificate as files, for a Gateway's tls
	pool                    *x509.CertPool
	caFile                  string
	clientCert, clientK     string // the client's carries the DNS name partner.example.org
	// workload issues a client certificate carrying a workload identity as its URI SAN
	// ("spiffe://cluster.local/ns/NS/sa/SA"), as a mesh's certificate authority does.
	workload func(spiffeID string) tls.Certificate
}

func newPKI(t *testing.T, serverName string) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, uris ...*url.URL) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, URIs: uris}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := issue(2, serverName, x509.ExtKeyUsageServerAuth, []string{serverName})
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.serverFile, p.serverKFile = write("server.pem", sc), write("server-key.pem", sk)
	cc, ck := issue(3, "signalbox-proxy", x509.ExtKeyUsageClientAuth, []string{"partner.example.org"})
	p.clientCert, p.clientK = write("client.pem", cc), write("client-key.pem", ck)
	serial := int64(3)
	p.workload = func(id string) tls.Certificate {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		c, k := issue(serial, u.Path, x509.ExtKeyUsageClientAuth, nil, u)
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	return p
}

// startTLSEcho serves HTTPS requiring a client certificate from the PKI; it answers with the
// SNI it was asked for and the client certificate's common name.
func startTLSEcho(t *testing.T, p *pki) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			client := ""
			if len(r.TLS.PeerCertificates) > 0 {
				client = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			w.Header().Set("X-Backend", "tls")
			json.NewEncoder(w).Encode(map[string]string{"sni": r.TLS.ServerName, "client": client})
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.pool,
			ClientAuth: tls.RequireAndVerifyClientCert},
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A DestinationRule with tls MUTUAL makes the proxy originate TLS with the files it names,
// sending the SNI and checking the server's name.
func TestFeatureUpstreamMutualTLS(t *testing.T) {
	p := newPKI(t, "secure.internal")
	addr := startTLSEcho(t, p)
	host, port, _ := strings.Cut(addr, ":")
	m := startMesh(t, map[string]string{
		"policies/secure.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure}
spec:
  hosts: [secure.default.svc.cluster.local]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: %s, ports: {http: %s}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure
  trafficPolicy:
    tls:
      mode: MUTUAL
      clientCertificate: %s
      privateKey: %s
      caCertificates: %s
      sni: secure.internal
      subjectAltNames: [secure.internal]
`, host, port, p.clientCert, p.clientK, p.caFile),
	})
	r := m.get("secure", "/", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"sni":"secure.internal"`) || !strings.Contains(r.body, `"client":"signalbox-proxy"`) {
		t.Fatalf("through mutual TLS: status %d body %q", r.status, r.body)
	}
}

// A cookie hash with a TTL: the proxy sets the cookie on the first response, and requests that
// carry it stay on one endpoint.
func TestFeatureCookieHash(t *testing.T) {
	a, b, c := startEchoServer(t, "a"), startEchoServer(t, "b"), startEchoServer(t, "c")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			a.endpoint("app: web"), b.endpoint("app: web"), c.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, path: /, ttl: 3600s}
`,
	})
	first := m.get("web", "/", nil)
	var cookie string
	for _, sc := range first.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "session=") {
			cookie, _, _ = strings.Cut(sc, ";")
		}
	}
	if cookie == "" {
		t.Fatalf("no session cookie set on the first response: %v", first.header.Values("Set-Cookie"))
	}
	for range 10 {
		if r := m.get("web", "/", map[string]string{"Cookie": cookie}); r.echo.Name != first.echo.Name {
			t.Fatalf("with %s: went to %s, the cookie was issued by %s", cookie, r.echo.Name, first.echo.Name)
		}
	}
}

// DNS_ROUND_ROBIN resolves one host name (Envoy's LOGICAL_DNS).
func TestFeatureLogicalDNS(t *testing.T) {
	e := startEchoServer(t, "dns")
	_, port := e.hostPort()
	m := startMesh(t, map[string]string{
		"policies/legacy.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy}
spec:
  hosts: [legacy.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS_ROUND_ROBIN
  endpoints:
  - {address: localhost, ports: {http: %s}}
`, port),
	})
	if r := m.get("legacy.example.com", "/", nil); r.echo.Name != "dns" {
		t.Fatalf("LOGICAL_DNS: status %d from %q", r.status, r.echo.Name)
	}
}
