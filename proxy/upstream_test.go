package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// h2Backend answers like a gRPC server: HTTP/2 only, a streamed body, status in trailers.
func h2Backend(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("X-Seen-Proto", strconv.Itoa(r.ProtoMajor))
		w.Header().Set("X-Seen-TE", r.Header.Get("Te"))
		w.Write([]byte("\x00\x00\x00\x00\x00"))
		w.(http.Flusher).Flush()
		w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	}))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &protocols
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func h2cClient() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: testTimeout, Transport: &http.Transport{Protocols: &protocols}}
}

func withProtocol(c *clusterv3.Cluster, o *httpv3.HttpProtocolOptions) *clusterv3.Cluster {
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: mustAny(o)}
	return c
}

// TestGRPCStyleUpstream: a cluster configured for HTTP/2 gets h2c from the proxy, and the
// response trailers (grpc-status) reach an h2c client.
func TestGRPCStyleUpstream(t *testing.T) {
	be := h2Backend(t)
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"grpc": {be}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "grpc")))}
	snap := cfg.snapshot(t)
	snap.resources[cds] = []types.Resource{withProtocol(edsCluster("grpc"), &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{}},
		}},
	})}
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, snap)
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})

	c := h2cClient()
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("POST", "http://"+p.ListenerAddr("out")+"/pkg.Service/Method", nil)
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Proto") != "2" || resp.Header.Get("X-Seen-TE") != "trailers" {
		t.Errorf("status %d, upstream saw HTTP/%s and TE %q", resp.StatusCode, resp.Header.Get("X-Seen-Proto"), resp.Header.Get("X-Seen-TE"))
	}
	if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
		t.Errorf("trailer grpc-status = %q, want 0 (trailers %v)", got, resp.Trailer)
	}
}

// TestRouteTimeout: a route with a timeout answers 504 when the upstream is slower.
func TestRouteTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	timed := prefixRoute("/", "slow")
	timed.GetRoute().Timeout = durationpb.New(100 * time.Millisecond)
	_, _, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"slow": {slow}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, timed))})
	start := time.Now()
	if code, _ := get(t, newClient(), addr, "svc", "/"); code != http.StatusGatewayTimeout {
		t.Errorf("slow upstream behind a 100ms route timeout: %d, want 504", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("504 took %v", d)
	}
}
