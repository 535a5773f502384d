package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// tlsTCPBackend is tcpBackend behind TLS that requires a client certificate of the PKI; its
// greeting names the client certificate it saw.
func tlsTCPBackend(t testing.TB, pki *testPKI, name string) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pki.server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	return serveConns(t, ln, func(c net.Conn) {
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		io.WriteString(c, name+" "+tc.ConnectionState().PeerCertificates[0].Subject.CommonName+"\n")
		io.Copy(c, c)
		io.WriteString(c, "bye "+name+"\n")
	})
}

// TestTCPProxyUpstreamTLS: a cluster's UpstreamTlsContext applies to TCP proxy connections:
// client certificate, CA and SAN verification; bytes and half-close pass through TLS; a SAN
// mismatch is a connect failure that closes the downstream.
func TestTCPProxyUpstreamTLS(t *testing.T) {
	pki := newPKI(t, "backend.example")
	be := tlsTCPBackend(t, pki, "secure")
	vc := func() *tlsv3.CertificateValidationContext {
		return &tlsv3.CertificateValidationContext{TrustedCa: &core.DataSource{
			Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.caPEM}}}
	}
	wrong := verifyingContext(pki, vc())
	wrong.GetCommonTlsContext().GetValidationContext().MatchTypedSubjectAltNames[0].Matcher =
		&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "other.example"}}
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"secure": {be}, "wrong": {be}},
		listeners: []*listenerv3.Listener{
			tcpProxyListener("tls", 9000, toTCPCluster("secure")),
			tcpProxyListener("wrong", 9001, toTCPCluster("wrong")),
		},
		edit: map[string]func(*clusterv3.Cluster){
			"secure": func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, verifyingContext(pki, vc())) },
			"wrong":  func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, wrong) },
		}})
	c := dialTCP(t, p.ListenerAddr("tls"))
	if got := c.greeting(); got != "secure proxy-client" {
		t.Fatalf("greeting %q, want the TLS backend seeing the proxy's client certificate", got)
	}
	c.echo(t, "over tls")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); got != "bye secure" {
		t.Fatalf("after FIN: %q", got)
	}
	if _, err := c.r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if got := dialTCP(t, p.ListenerAddr("wrong")).greeting(); got != "" {
		t.Fatalf("SAN mismatch reached %q", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_connect_failures_total{listener="wrong",cluster="wrong"} 1`)
}

// terminateTLS makes l's filter chain terminate TLS with the PKI's server certificate.
func terminateTLS(t *testing.T, l *listenerv3.Listener, pki *testPKI) {
	t.Helper()
	l.FilterChains[0].TransportSocket = &core.TransportSocket{Name: tlsTransportSocketName,
		ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(&tlsv3.DownstreamTlsContext{
			CommonTlsContext: &tlsv3.CommonTlsContext{TlsCertificates: []*tlsv3.TlsCertificate{{
				CertificateChain: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: serverCertPEM(t, pki)}},
				PrivateKey:       &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: serverKeyPEM(t, pki)}},
			}}}})}}
}

// TestTCPProxyDownstreamTLS: a TCP proxy listener with a DownstreamTlsContext terminates TLS
// (Istio's SIMPLE Gateway server with a TCP route) and relays the plain bytes, half-close
// (close_notify) included.
func TestTCPProxyDownstreamTLS(t *testing.T) {
	pki := newPKI(t, "backend.example")
	a := tcpBackend(t, "a")
	l := tcpProxyListener("tls-in", 9443, toTCPCluster("a"))
	terminateTLS(t, l, pki)
	_, p := setupTCP(t, tcpGateway{lv: "l1", clusters: map[string][]string{"a": {a}}, listeners: []*listenerv3.Listener{l}})
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	d := &net.Dialer{Timeout: testTimeout}
	c, err := tls.DialWithDialer(d, "tcp", p.ListenerAddr("tls-in"), &tls.Config{RootCAs: pool, ServerName: "backend.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	r := bufio.NewReader(c)
	line := func() string { s, _ := r.ReadString('\n'); return strings.TrimSuffix(s, "\n") }
	if got := line(); got != "a" {
		t.Fatalf("greeting %q", got)
	}
	io.WriteString(c, "hi\n")
	if got := line(); got != "hi" {
		t.Fatalf("echo %q", got)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := line(); got != "bye a" {
		t.Fatalf("after close_notify: %q", got)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

// serverCertPEM and serverKeyPEM encode the PKI's server certificate for a listener.
func serverCertPEM(t testing.TB, pki *testPKI) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.server.Certificate[0]})
}

func serverKeyPEM(t testing.TB, pki *testPKI) []byte {
	kd, err := x509.MarshalPKCS8PrivateKey(pki.server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}
