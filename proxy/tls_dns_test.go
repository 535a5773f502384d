package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// testPKI is a CA with one server and one client certificate, made fresh per test.
type testPKI struct {
	caPEM          []byte
	ca             *x509.Certificate
	caKey          *ecdsa.PrivateKey
	server, client tls.Certificate
	clientCertPEM  []byte
	clientKeyPEM   []byte
	serverCertPEM  []byte
	serverKeyPEM   []byte
}

func newPKI(t testing.TB, serverDNS string) *testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p := &testPKI{caKey: key()}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	leaf := func(serial int64, cn string, dns []string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(k)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair, certPEM, keyPEM
	}
	p.server, p.serverCertPEM, p.serverKeyPEM = leaf(2, serverDNS, []string{serverDNS}, x509.ExtKeyUsageServerAuth)
	p.client, p.clientCertPEM, p.clientKeyPEM = leaf(3, "proxy-client", nil, x509.ExtKeyUsageClientAuth)
	return p
}

// mtlsBackend requires a client certificate signed by the PKI's CA and names what it saw.
func mtlsBackend(t testing.TB, pki *testPKI, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-SNI", r.TLS.ServerName)
		if len(r.TLS.PeerCertificates) > 0 {
			w.Header().Set("X-Client", r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}))
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the SAN-mismatch case logs a handshake error
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func upstreamTLS(t testing.TB, ctx *tlsv3.UpstreamTlsContext) *core.TransportSocket {
	return &core.TransportSocket{Name: tlsTransportSocketName, ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// TestUpstreamMutualTLS: Istio's MUTUAL origination: SNI, CA validation (from a file), SAN
// match and a client certificate; a SAN mismatch fails the request.
func TestUpstreamMutualTLS(t *testing.T) {
	pki := newPKI(t, "backend.example")
	be := mtlsBackend(t, pki, "secure")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := func(san string) *tlsv3.UpstreamTlsContext {
		return &tlsv3.UpstreamTlsContext{Sni: "backend.example", CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificates: []*tlsv3.TlsCertificate{{
				CertificateChain: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.clientCertPEM}},
				PrivateKey:       &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: pki.clientKeyPEM}},
			}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: caFile}},
				MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS,
					Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san}}}},
			}},
		}}
	}
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/good", "good"), prefixRoute("/wrong", "wrong")))
	_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"good": {be}, "wrong": {be}},
		edit: map[string]func(*clusterv3.Cluster){
			"good":  func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, ctx("backend.example")) },
			"wrong": func(c *clusterv3.Cluster) { c.TransportSocket = upstreamTLS(t, ctx("other.example")) },
		}})
	resp := do(t, newClient(), "GET", addr, "svc", "/good")
	if resp.StatusCode != 200 || resp.Header.Get("X-SNI") != "backend.example" || resp.Header.Get("X-Client") != "proxy-client" {
		t.Errorf("mutual TLS: %d SNI %q client %q", resp.StatusCode, resp.Header.Get("X-SNI"), resp.Header.Get("X-Client"))
	}
	if resp := do(t, newClient(), "GET", addr, "svc", "/wrong"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("SAN mismatch: %d, want 503", resp.StatusCode)
	}
}

// TestStrictDNS: a STRICT_DNS cluster resolves the name in its load assignment.
func TestStrictDNS(t *testing.T) {
	be := backend(t, "dns")
	_, port := hostPort(t, be)
	snap := sidecar{version: "r1", clusters: map[string][]*httptest.Server{},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, withRetry(prefixRoute("/", "dns"), istioRetry("connect-failure", 2, 0))))}.snapshot(t)
	snap.resources[cds] = []types.Resource{&clusterv3.Cluster{
		Name:                 "dns",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS},
		ConnectTimeout:       durationpb.New(time.Second),
		DnsRefreshRate:       durationpb.New(time.Minute),
		DnsLookupFamily:      clusterv3.Cluster_V4_ONLY,
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "dns", Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint("localhost", port)},
		}}},
	}}
	snap.resources[eds] = nil
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, snap)
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1"})
	addr := p.ListenerAddr("out")
	for range 4 {
		if code, from := get(t, newClient(), addr, "svc", "/"); code != 200 || from != "dns" {
			t.Fatalf("STRICT_DNS: %d from %q", code, from)
		}
	}
}

// TestIgnoresAPIListener: a listener for proxyless gRPC clients is neither bound nor NACKed.
func TestIgnoresAPIListener(t *testing.T) {
	be := backend(t, "b")
	hcm := &hcmv3.HttpConnectionManager{RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{ConfigSource: adsSource(), RouteConfigName: "grpc-routes"}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}}}}
	api := &listenerv3.Listener{Name: "reviews.default.svc.cluster.local:9080", ApiListener: &listenerv3.ApiListener{ApiListener: mustAny(hcm)}}
	_, p, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "b"))),
		clusters: map[string][]*httptest.Server{"b": {be}}, listeners: []types.Resource{api}})
	if p.ListenerAddr(api.Name) != "" {
		t.Error("the api_listener was bound")
	}
	if code, _ := get(t, newClient(), addr, "svc", "/"); code != 200 {
		t.Errorf("HTTP listener beside it: %d", code)
	}
	if d := configOf(t, p); d.LastNACK != nil {
		t.Errorf("NACK: %+v", d.LastNACK)
	}
}

// TestMaxRequestsPerConnection: Istio's maxRequestsPerConnection retires upstream
// connections after that many requests; idle_timeout and TCP keep-alive are accepted with it.
func TestMaxRequestsPerConnection(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	_, _, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "b"))),
		clusters: map[string][]*httptest.Server{"b": {be}},
		edit: map[string]func(*clusterv3.Cluster){"b": func(c *clusterv3.Cluster) {
			withProtocol(c, &httpv3.HttpProtocolOptions{
				CommonHttpProtocolOptions: &core.HttpProtocolOptions{IdleTimeout: durationpb.New(time.Minute), MaxRequestsPerConnection: wrapperspb.UInt32(2)},
				UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
					ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &core.Http1ProtocolOptions{}}}},
			})
			c.UpstreamConnectionOptions = &clusterv3.UpstreamConnectionOptions{TcpKeepalive: &core.TcpKeepalive{
				KeepaliveProbes: wrapperspb.UInt32(3), KeepaliveTime: wrapperspb.UInt32(60), KeepaliveInterval: wrapperspb.UInt32(10)}}
		}}})
	c := newClient()
	for range 6 {
		if code, _ := get(t, c, addr, "svc", "/"); code != 200 {
			t.Fatalf("code %d", code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 3 {
		t.Errorf("6 requests with max 2 per connection used %d connections: %v", len(conns), conns)
	}
	for a, n := range conns {
		if n > 2 {
			t.Errorf("connection %s carried %d requests", a, n)
		}
	}
}

// TestStrictDNSResolvesEveryPriority: a localised STRICT_DNS cluster's other localities are
// lower priorities, its failover; each level's names are resolved, not only the first's.
func TestStrictDNSResolvesEveryPriority(t *testing.T) {
	cfg := &endpointsConfig{name: "dns",
		eps:   []endpointConfig{{addr: "localhost:1001", weight: 1}},
		lower: [][]endpointConfig{{{addr: "localhost:1002", weight: 2}}, {{addr: "127.0.0.9:1003", weight: 1}}}}
	got := resolveStatic(context.Background(), cfg, clusterv3.Cluster_V4_ONLY)
	if len(got.eps) != 1 || got.eps[0].addr != "127.0.0.1:1001" {
		t.Errorf("priority 0: %+v", got.eps)
	}
	if len(got.lower) != 2 || len(got.lower[0]) != 1 || got.lower[0][0].addr != "127.0.0.1:1002" || got.lower[0][0].weight != 2 ||
		len(got.lower[1]) != 1 || got.lower[1][0].addr != "127.0.0.9:1003" {
		t.Errorf("lower priorities: %+v", got.lower)
	}
}

// TestEmptyFirstLevelFallsThrough: when the first priority level has no endpoint at all, as
// when its STRICT_DNS names resolve to nothing, the next level serves.
func TestEmptyFirstLevelFallsThrough(t *testing.T) {
	c := newCluster(&clusterConfig{name: "dns"}, &clusterStats{})
	c.setEndpoints(&endpointsConfig{name: "dns", lower: [][]endpointConfig{{{addr: "127.0.0.9:1003", weight: 1}}}})
	if e := c.pick(); e == nil || e.addr != "127.0.0.9:1003" {
		t.Errorf("first level empty: picked %+v, want the second level's endpoint", e)
	}
}
