package proxy

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// jwksServer is a real HTTPS JWKS endpoint on loopback, requiring the proxy's client
// certificate; it counts its requests and serves whatever JWKS is current.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	jwks   atomic.Pointer[string]
	status atomic.Int64              // answered instead of the JWKS when not 0
	delay  atomic.Int64              // nanoseconds to wait before answering
	seen   atomic.Pointer[[2]string] // the last request's Host and path
}

func startJWKSServer(t *testing.T, pki *testPKI, jwks string) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.jwks.Store(&jwks)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.seen.Store(&[2]string{r.Host, r.URL.RequestURI()})
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if code := s.status.Load(); code != 0 {
			w.WriteHeader(int(code))
			return
		}
		io.WriteString(w, *s.jwks.Load())
	}))
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// jwksCluster is a real STATIC cluster with upstream mTLS to addr, published in reg as
// applyClusters publishes the applied clusters.
func jwksCluster(t *testing.T, reg *statsRegistry, pki *testPKI, name, addr string) {
	t.Helper()
	host, port := splitHostPort(t, addr)
	cc := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(host, port)}}}},
		TransportSocket: upstreamTLS(t, verifyingContext(pki, &tlsv3.CertificateValidationContext{TrustedCa: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineBytes{InlineBytes: pki.caPEM}}})),
	}
	cfg, err := decodeCluster(cc)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(cfg, reg.get(name))
	c.setEndpoints(cfg.static)
	t.Cleanup(c.close)
	m := map[string]*cluster{name: c}
	if old := reg.clusters.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	reg.clusters.Store(&m)
}

func splitHostPort(t *testing.T, addr string) (string, uint32) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var port uint32
	for _, d := range p {
		port = port*10 + uint32(d-'0')
	}
	return h, port
}

func remoteProvider(cluster string, timeout, cache time.Duration) *jwtv3.JwtProvider {
	rj := &jwtv3.RemoteJwks{HttpUri: &corev3.HttpUri{Uri: "https://issuer.example/keys?v=1",
		HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: cluster}, Timeout: durationpb.New(timeout)}}
	if cache > 0 {
		rj.CacheDuration = durationpb.New(cache)
	}
	return &jwtv3.JwtProvider{Issuer: testIssuer, Audiences: []string{"shop"},
		JwksSourceSpecifier: &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: rj}}
}

// jwtServe runs the filter over one request as the listener does, with reg's clusters.
func jwtServe(f *jwtFilter, reg *statsRegistry, token string) (int, string) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "shop.example.com"
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	if _, ok := f.authenticate(w, r, reg); ok {
		return 200, ""
	}
	return w.Code, w.Body.String()
}

func jwksMetric(reg *statsRegistry, provider, result string) string {
	var b strings.Builder
	reg.writePrometheus(&b)
	want := `signalbox_proxy_jwks_fetch_total{provider="` + provider + `",result="` + result + `"} `
	for l := range strings.SplitSeq(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, want); ok {
			return v
		}
	}
	return "0"
}

// TestRemoteJWKSFetchShared: 64 concurrent requests needing the keys share one fetch over
// the cluster's upstream mTLS, which sends the URI's Host and path; all verify.
func TestRemoteJWKSFetchShared(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	srv.delay.Store(int64(100 * time.Millisecond)) // keep the fetch open while all arrive
	var reg statsRegistry
	jwksCluster(t, &reg, pki, "jwks", srv.Listener.Addr().String())
	f := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute)))
	tok := signJWT(t, "RS256", "k1", testRSA, claims())
	var wg sync.WaitGroup
	codes := make([]int, 64)
	for i := range codes {
		wg.Go(func() { codes[i], _ = jwtServe(f, &reg, tok) })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d, want verified", i, c)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS server hit %d times, want 1", n)
	}
	if got := *srv.seen.Load(); got != [2]string{"issuer.example", "/keys?v=1"} {
		t.Fatalf("fetch sent Host and path %q", got)
	}
	if v := jwksMetric(&reg, "origins-0", "success"); v != "1" {
		t.Fatalf("success fetches %s, want 1", v)
	}
}

// TestRemoteJWKSRotation: keys rotated on the server are used once cache_duration has
// passed, and not before.
func TestRemoteJWKSRotation(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	var reg statsRegistry
	jwksCluster(t, &reg, pki, "jwks", srv.Listener.Addr().String())
	const cache = 400 * time.Millisecond
	f := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, cache)))
	old := signJWT(t, "RS256", "k1", testRSA, claims())
	rotated := signJWT(t, "RS256", "k2", otherRSA, claims())
	if c, _ := jwtServe(f, &reg, old); c != 200 {
		t.Fatalf("old key: %d", c)
	}
	fetched := time.Now()
	next := jwksOf(map[string]crypto.PublicKey{"k2": &otherRSA.PublicKey})
	srv.jwks.Store(&next)
	if c, body := jwtServe(f, &reg, rotated); c != 401 || body != "Jwks doesn't have key to match kid or alg from Jwt" {
		t.Fatalf("rotated key within cache_duration: %d %q, want the cached keys used", c, body)
	}
	if time.Since(fetched) >= cache {
		t.Skip("the machine is too slow for the cache window")
	}
	time.Sleep(time.Until(fetched.Add(cache + 50*time.Millisecond)))
	if c, body := jwtServe(f, &reg, rotated); c != 200 {
		t.Fatalf("rotated key after cache_duration: %d %q", c, body)
	}
	if c, _ := jwtServe(f, &reg, old); c != 401 {
		t.Fatalf("old key after rotation: %d, want 401", c)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("JWKS server hit %d times, want 2", n)
	}
}

// TestRemoteJWKSFailures: a JWKS server answering 503, then one that is down, fail tokens
// with Envoy's text and are asked at most once per jwksRetryAfter; the provider recovers
// when the server does. An unknown cluster, a body with no key and a timeout fail too.
func TestRemoteJWKSFailures(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	srv.status.Store(503)
	var reg statsRegistry
	jwksCluster(t, &reg, pki, "jwks", srv.Listener.Addr().String())
	f := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute)))
	tok := signJWT(t, "RS256", "k1", testRSA, claims())
	const failed = "Jwks remote fetch is failed"
	for i := range 10 {
		if c, body := jwtServe(f, &reg, tok); c != 401 || body != failed {
			t.Fatalf("request %d with the server failing: %d %q", i, c, body)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS server hit %d times within jwksRetryAfter, want 1", n)
	}
	srv.status.Store(0)
	time.Sleep(jwksRetryAfter + 50*time.Millisecond)
	if c, body := jwtServe(f, &reg, tok); c != 200 {
		t.Fatalf("after the server recovered: %d %q", c, body)
	}
	if jwksMetric(&reg, "origins-0", "failure") != "1" || jwksMetric(&reg, "origins-0", "success") != "1" {
		t.Fatal("fetch counters do not show one failure and one success")
	}

	// A server that is down: connection refused.
	down := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	downAddr := down.Listener.Addr().String()
	down.Close()
	jwksCluster(t, &reg, pki, "down", downAddr)
	fd := jwtFilterOf(t, istioJWT(remoteProvider("down", 2*time.Second, time.Minute)))
	if c, body := jwtServe(fd, &reg, tok); c != 401 || body != failed {
		t.Fatalf("server down: %d %q", c, body)
	}

	// An unknown cluster, a body that is not a JWKS, a timeout.
	fu := jwtFilterOf(t, istioJWT(remoteProvider("nosuch", 2*time.Second, time.Minute)))
	if c, body := jwtServe(fu, &reg, tok); c != 401 || body != failed {
		t.Fatalf("unknown cluster: %d %q", c, body)
	}
	bad := startJWKSServer(t, pki, `{"keys": "none"}`)
	jwksCluster(t, &reg, pki, "bad", bad.Listener.Addr().String())
	fb := jwtFilterOf(t, istioJWT(remoteProvider("bad", 2*time.Second, time.Minute)))
	if c, body := jwtServe(fb, &reg, tok); c != 401 || body != failed {
		t.Fatalf("bad JSON: %d %q", c, body)
	}
	slow := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	slow.delay.Store(int64(3 * time.Second))
	jwksCluster(t, &reg, pki, "slow", slow.Listener.Addr().String())
	fs := jwtFilterOf(t, istioJWT(remoteProvider("slow", 200*time.Millisecond, time.Minute)))
	start := time.Now()
	if c, body := jwtServe(fs, &reg, tok); c != 401 || body != failed {
		t.Fatalf("timeout: %d %q", c, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timed-out fetch took %v, want about the 200ms timeout", d)
	}
}

// TestRemoteJWKSDownRecovers: a server that refuses connections fails tokens; once it
// listens again on the same address, the next fetch after jwksRetryAfter succeeds.
func TestRemoteJWKSDownRecovers(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	addr := srv.Listener.Addr().String()
	srv.Close()
	var reg statsRegistry
	jwksCluster(t, &reg, pki, "jwks", addr)
	f := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute)))
	tok := signJWT(t, "RS256", "k1", testRSA, claims())
	if c, body := jwtServe(f, &reg, tok); c != 401 || body != "Jwks remote fetch is failed" {
		t.Fatalf("server down: %d %q", c, body)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	back := &jwksServer{}
	js := jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey})
	back.jwks.Store(&js)
	back.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		back.hits.Add(1)
		io.WriteString(w, *back.jwks.Load())
	}))
	back.Listener.Close()
	back.Listener = ln
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	back.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	back.StartTLS()
	t.Cleanup(back.Close)
	time.Sleep(jwksRetryAfter + 50*time.Millisecond)
	if c, body := jwtServe(f, &reg, tok); c != 200 {
		t.Fatalf("server back: %d %q", c, body)
	}
	if n := back.hits.Load(); n != 1 {
		t.Fatalf("server hit %d times, want 1", n)
	}
}

// TestRemoteJWKSKeptAcrossUpdates: a listener update with the same remote_jwks keeps the
// fetched keys; one with another URI starts empty.
func TestRemoteJWKSKeptAcrossUpdates(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	var reg statsRegistry
	jwksCluster(t, &reg, pki, "jwks", srv.Listener.Addr().String())
	tok := signJWT(t, "RS256", "k1", testRSA, claims())
	f1 := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute)))
	if c, _ := jwtServe(f1, &reg, tok); c != 200 {
		t.Fatal("first fetch failed")
	}
	f2 := jwtFilterOf(t, istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute)))
	f2.keepJWKS(f1)
	if c, _ := jwtServe(f2, &reg, tok); c != 200 || srv.hits.Load() != 1 {
		t.Fatalf("same config: %d after %d fetches, want the kept keys", c, srv.hits.Load())
	}
	p3 := remoteProvider("jwks", 2*time.Second, time.Minute)
	p3.GetRemoteJwks().HttpUri.Uri = "https://issuer.example/other"
	f3 := jwtFilterOf(t, istioJWT(p3))
	f3.keepJWKS(f2)
	if c, _ := jwtServe(f3, &reg, tok); c != 200 || srv.hits.Load() != 2 {
		t.Fatalf("other URI: %d after %d fetches, want a fetch of its own", c, srv.hits.Load())
	}
}

// TestRemoteJWKSDecode: what remote_jwks accepts and what it NACKs, by field.
func TestRemoteJWKSDecode(t *testing.T) {
	f := jwtFilterOf(t, istioJWT(remoteProvider("jwks", time.Second, 0)))
	if rj := f.providers[0].remote; rj == nil || rj.cacheFor != 600*time.Second || rj.timeout != time.Second || rj.cluster != "jwks" {
		t.Fatalf("decoded %+v, want Envoy's 600s default cache_duration", rj)
	}
	const pr = `jwt.providers["origins-0"].`
	for want, edit := range map[string]func(*jwtv3.RemoteJwks){
		pr + "remote_jwks.async_fetch: field not supported":  func(r *jwtv3.RemoteJwks) { r.AsyncFetch = &jwtv3.JwksAsyncFetch{} },
		pr + "remote_jwks.retry_policy: field not supported": func(r *jwtv3.RemoteJwks) { r.RetryPolicy = &corev3.RetryPolicy{} },
		"RemoteJwks.HttpUri: value is required":              func(r *jwtv3.RemoteJwks) { r.HttpUri = nil },
		pr + "remote_jwks.http_uri.uri:":                     func(r *jwtv3.RemoteJwks) { r.HttpUri.Uri = "/keys" },
		pr + "remote_jwks.http_uri.timeout:":                 func(r *jwtv3.RemoteJwks) { r.HttpUri.Timeout = durationpb.New(0) },
	} {
		p := remoteProvider("jwks", time.Second, 0)
		edit(p.GetRemoteJwks())
		_, err := decodeJWTFilter("jwt", mustAny(istioJWT(p)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant an error with %q", err, want)
		}
	}
}

// TestRemoteJWKSPlainCluster: a cluster without upstream TLS is fetched over plain HTTP with
// the http:// URI's Host, port included.
func TestRemoteJWKSPlainCluster(t *testing.T) {
	var hits atomic.Int64
	var host atomic.Pointer[string]
	js := jwksOf(map[string]crypto.PublicKey{"k1": &testEC256.PublicKey})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h := r.Host
		host.Store(&h)
		io.WriteString(w, js)
	}))
	t.Cleanup(srv.Close)
	h, port := splitHostPort(t, srv.Listener.Addr().String())
	cc := &clusterv3.Cluster{Name: "plain", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout: durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: "plain", Endpoints: []*endpointv3.LocalityLbEndpoints{{
			LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(h, port)}}}}}
	cfg, err := decodeCluster(cc)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(cfg, nil)
	c.setEndpoints(cfg.static)
	t.Cleanup(c.close)
	var reg statsRegistry
	reg.clusters.Store(&map[string]*cluster{"plain": c})
	p := remoteProvider("plain", 2*time.Second, time.Minute)
	p.GetRemoteJwks().HttpUri.Uri = "http://keys.example:8080/jwks"
	f := jwtFilterOf(t, istioJWT(p))
	tok := signJWT(t, "ES256", "k1", testEC256, claims())
	for range 3 {
		if code, body := jwtServe(f, &reg, tok); code != 200 {
			t.Fatalf("%d %q", code, body)
		}
	}
	if hits.Load() != 1 || *host.Load() != "keys.example:8080" {
		t.Fatalf("%d fetches with Host %q, want 1 with keys.example:8080", hits.Load(), *host.Load())
	}
}
