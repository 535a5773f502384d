package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// BenchmarkProxyForward measures requests through the proxy against the same requests sent
// straight to the backend, in one process: allocs/op include the client and the backend, so
// the proxy's own share is the difference between the two. Run with -cpu to vary parallelism.
//
//	go test -run '^$' -bench ProxyForward -benchmem ./proxy/
func BenchmarkProxyForward(b *testing.B) {
	body := strings.Repeat("x", 100) // the backend of the design's measurements: a 100-byte body
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	b.Cleanup(be.Close)
	_, _, proxyAddr := setup(b, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {be}},
		routes: routeConfiguration("r", vhost("svc", []string{"svc", "svc:80"}, prefixRoute("/", "b")))})

	// The baseline the design measured: httputil.ReverseProxy with its defaults.
	target, _ := url.Parse(be.URL)
	rp := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	b.Cleanup(rp.Close)

	for _, bc := range []struct{ name, addr string }{
		{"direct", be.Listener.Addr().String()},
		{"proxy", proxyAddr},
		{"reverseproxy", rp.Listener.Addr().String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
			defer c.CloseIdleConnections()
			u := "http://" + bc.addr + "/bench"
			b.ReportAllocs()
			b.SetParallelism(4)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Host = "svc"
				for pb.Next() {
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkRouteLookup is the routing decision alone: it must not allocate.
func BenchmarkRouteLookup(b *testing.B) {
	cfg, err := decodeRouteConfiguration(routeConfiguration("r",
		vhost("a", []string{"a.example.com", "a.example.com:80"}, prefixRoute("/x", "x"), prefixRoute("/", "a")),
		vhost("web", []string{"web.example.com"},
			withHeader(prefixRoute("/api", "canary"), "x-canary", exact("true")),
			prefixRoute("/api", "api"),
			regexRoute(`/items/[0-9]+`, "items"),
			prefixRoute("/", "web")),
		vhost("wild", []string{"*.example.com"}, prefixRoute("/", "wild")),
	))
	if err != nil {
		b.Fatal(err)
	}
	c := &cluster{cfg: &clusterConfig{name: "api"}}
	c.setEndpoints(&endpointsConfig{eps: []endpointConfig{{addr: "10.0.0.1:80", weight: 1}, {addr: "10.0.0.2:80", weight: 1}}})
	t := linkRouteTable(cfg, func(string) *cluster { return c })
	r := httptest.NewRequest("GET", "http://web.example.com/api/v1/items?x=1", nil)
	b.ReportAllocs()
	for b.Loop() {
		lr := t.lookup(r)
		if lr == nil || lr.clusters[lr.pickCluster()].pick() == nil {
			b.Fatal("no route")
		}
	}
}
