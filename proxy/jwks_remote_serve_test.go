package proxy

import (
	"crypto"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// TestRemoteJWKSServe: over xDS, a listener's remote_jwks is fetched through a CDS/EDS
// cluster with upstream mTLS, once for 32 concurrent requests; a listener update with the
// same provider keeps the keys (no second fetch); requests without a token still pass
// Istio's allow_missing without any fetch.
func TestRemoteJWKSServe(t *testing.T) {
	pki := newPKI(t, "backend.example")
	srv := startJWKSServer(t, pki, jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey}))
	srv.delay.Store(int64(50 * time.Millisecond))
	b := backend(t, "b")
	mk := func(statPrefix string) *hcmv3.HttpFilter {
		m := istioJWT(remoteProvider("jwks", 2*time.Second, time.Minute))
		m.StatPrefix = statPrefix
		return jwtHTTPFilter(m)
	}
	cfg := sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"svc"}, prefixRoute("/", "b"))),
		clusters: map[string][]*httptest.Server{"b": {b}, "jwks": {srv.Server}},
		filters:  []*hcmv3.HttpFilter{mk("")},
		edit: map[string]func(*clusterv3.Cluster){"jwks": func(c *clusterv3.Cluster) {
			c.TransportSocket = upstreamTLS(t, verifyingContext(pki, &tlsv3.CertificateValidationContext{TrustedCa: &corev3.DataSource{
				Specifier: &corev3.DataSource_InlineBytes{InlineBytes: pki.caPEM}}}))
		}}}
	xds, p, addr := setup(t, cfg)
	c := newClient()
	if code, _ := get(t, c, addr, "svc", "/"); code != 200 || srv.hits.Load() != 0 {
		t.Fatalf("no token: %d after %d fetches, want 200 and no fetch", code, srv.hits.Load())
	}
	tok := signJWT(t, "RS256", "k1", testRSA, claims())
	var wg sync.WaitGroup
	codes := make([]int, 32)
	for i := range codes {
		wg.Go(func() { codes[i], _ = get(t, c, addr, "svc", "/", "Authorization", "Bearer "+tok) })
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS server hit %d times, want 1", n)
	}
	if v := jwksMetric(&p.fwd.stats, "origins-0", "success"); v != "1" {
		t.Fatalf("signalbox_proxy_jwks_fetch_total success %s, want 1", v)
	}
	if code, be := get(t, c, addr, "svc", "/", "Authorization", "Bearer "+signJWT(t, "RS256", "k1", otherRSA, claims())); code != 401 || be != "" {
		t.Fatalf("token of another key: %d from %q, want 401 from the proxy", code, be)
	}

	cfg.filters = []*hcmv3.HttpFilter{mk("updated")}
	snap := cfg.snapshot(t)
	snap.versions[lds] = "l2"
	xds.set(t, "node-"+t.Name(), snap)
	waitVersions(t, p, map[string]string{lds: "l2"})
	if code, _ := get(t, c, addr, "svc", "/", "Authorization", "Bearer "+tok); code != 200 {
		t.Fatalf("after the update: %d", code)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS server hit %d times after an update keeping the provider, want 1", n)
	}
}
