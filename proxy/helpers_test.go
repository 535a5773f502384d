package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	lds = resourcev3.ListenerType
	rds = resourcev3.RouteType
	cds = resourcev3.ClusterType
	eds = resourcev3.EndpointType
)

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// xdsServer is a real go-control-plane ADS server on loopback, recording what proxies send.
type xdsServer struct {
	addr  string
	cache cache.SnapshotCache
	grpc  *grpc.Server

	mu       sync.Mutex
	requests []*discoveryv3.DiscoveryRequest
	changed  chan struct{}
}

// startXDS listens on addr ("127.0.0.1:0" for a fresh port).
func startXDS(t testing.TB, addr string) *xdsServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &xdsServer{addr: ln.Addr().String(), cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil), changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cb := server.CallbackFuncs{StreamRequestFunc: func(_ int64, r *discoveryv3.DiscoveryRequest) error {
		s.mu.Lock()
		s.requests = append(s.requests, proto.Clone(r).(*discoveryv3.DiscoveryRequest))
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		return nil
	}}
	s.grpc = grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s.grpc, server.NewServer(ctx, s.cache, cb))
	go s.grpc.Serve(ln)
	t.Cleanup(func() { s.grpc.Stop(); cancel() })
	return s
}

// waitRequest returns the first request recorded that satisfies ok.
func (s *xdsServer) waitRequest(t testing.TB, ok func(*discoveryv3.DiscoveryRequest) bool) *discoveryv3.DiscoveryRequest {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		s.mu.Lock()
		ch := s.changed
		for _, r := range s.requests {
			if ok(r) {
				s.mu.Unlock()
				return r
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("timed out waiting for an xDS request")
		}
	}
}

func (s *xdsServer) countRequests(ok func(*discoveryv3.DiscoveryRequest) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if ok(r) {
			n++
		}
	}
	return n
}

// snapshot is a proxy's configuration, each type with its own version, as the compiler emits.
type snapshot struct {
	versions  map[string]string
	resources map[string][]types.Resource
}

func (s *xdsServer) set(t testing.TB, node string, snap snapshot) {
	t.Helper()
	var cs cache.Snapshot
	for typ, res := range snap.resources {
		cs.Resources[cache.GetResponseType(typ)] = cache.NewResources(snap.versions[typ], res)
	}
	if err := s.cache.SetSnapshot(context.Background(), node, &cs); err != nil {
		t.Fatal(err)
	}
}

// startProxy runs a proxy against xdsAddr with every listener rebound to 127.0.0.1:0.
func startProxy(t testing.TB, xdsAddr, node string) *Proxy {
	t.Helper()
	p := New(Options{
		XDSAddr: xdsAddr,
		NodeID:  node,
		Labels:  map[string]string{"app": "test"},
		Rebind:  func(string) string { return "127.0.0.1:0" },
	})
	runProxy(t, p)
	return p
}

// runProxy runs p until the test ends, and checks Run returns promptly then.
func runProxy(t testing.TB, p *Proxy) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Run did not return after cancel")
		}
	})
}

func waitVersions(t testing.TB, p *Proxy, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for typ, v := range want {
		if err := p.WaitVersion(ctx, typ, v); err != nil {
			t.Fatal(err)
		}
	}
}

// backend is a real net/http server that names itself in its answers.
func backend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-XFP", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-Request-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Seen-Path", r.RequestURI)
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostPort(t testing.TB, s *httptest.Server) (string, uint32) {
	t.Helper()
	h, p, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, uint32(n)
}

func newClient() *http.Client {
	return &http.Client{
		Timeout:   testTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
}

// get sends one request through the proxy and returns the status and the backend that
// answered ("" when the proxy answered itself).
func get(t testing.TB, c *http.Client, addr, host, path string, hdr ...string) (int, string) {
	t.Helper()
	code, backend, err := tryGet(c, addr, host, path, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return code, backend
}

func tryGet(c *http.Client, addr, host, path string, hdr ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), nil
}

// --- resources in the shape the compiler emits ---

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

func adsSource() *core.ConfigSource {
	return &core.ConfigSource{
		ResourceApiVersion:    core.ApiVersion_V3,
		ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
	}
}

func routerFilter() *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: routerFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})}}
}

func httpListener(name, ip string, port uint32, routeName string, filters ...*hcmv3.HttpFilter) *listenerv3.Listener {
	if len(filters) == 0 {
		filters = []*hcmv3.HttpFilter{routerFilter()}
	}
	m := &hcmv3.HttpConnectionManager{
		StatPrefix: name,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: routeName,
		}},
		HttpFilters: filters,
	}
	return &listenerv3.Listener{
		Name: name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: ip, PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: hcmFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(m)},
		}}}},
	}
}

func routeConfiguration(name string, vhosts ...*routev3.VirtualHost) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: name, VirtualHosts: vhosts}
}

func vhost(name string, domains []string, routes ...*routev3.Route) *routev3.VirtualHost {
	return &routev3.VirtualHost{Name: name, Domains: domains, Routes: routes}
}

func toCluster(cluster string) *routev3.Route_Route {
	return &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}}
}

func prefixRoute(prefix, cluster string) *routev3.Route {
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}}, Action: toCluster(cluster)}
}

func pathRoute(path, cluster string) *routev3.Route {
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: path}}, Action: toCluster(cluster)}
}

func regexRoute(re, cluster string) *routev3.Route {
	return &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{
		SafeRegex: &matcherv3.RegexMatcher{Regex: re},
	}}, Action: toCluster(cluster)}
}

func withHeader(r *routev3.Route, name string, sm *matcherv3.StringMatcher) *routev3.Route {
	r.Match.Headers = append(r.Match.Headers, &routev3.HeaderMatcher{
		Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm},
	})
	return r
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func weightedRoute(prefix string, clusters ...any) *routev3.Route {
	wc := &routev3.WeightedCluster{}
	for i := 0; i+1 < len(clusters); i += 2 {
		wc.Clusters = append(wc.Clusters, &routev3.WeightedCluster_ClusterWeight{
			Name: clusters[i].(string), Weight: wrapperspb.UInt32(uint32(clusters[i+1].(int))),
		})
	}
	return &routev3.Route{
		Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}}},
	}
}

func edsCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: name},
		ConnectTimeout:       durationpb.New(time.Second),
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
	}
}

// loadAssignment places each backend in one locality, as the compiler does.
func loadAssignment(t testing.TB, name string, backends ...*httptest.Server) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	var lbs []*endpointv3.LbEndpoint
	for _, b := range backends {
		ip, port := hostPort(t, b)
		lbs = append(lbs, lbEndpoint(ip, port))
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{
		Locality:            &core.Locality{Zone: "z1"},
		LoadBalancingWeight: wrapperspb.UInt32(1),
		LbEndpoints:         lbs,
	}}}
}

func lbEndpoint(ip string, port uint32) *endpointv3.LbEndpoint {
	return &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: ip, PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
		}}},
	}}}
}

// sidecar is the one-listener shape most tests use: listener "out" -> routes "r" and the
// given clusters, each cluster with its backends.
type sidecar struct {
	routes   *routev3.RouteConfiguration
	clusters map[string][]*httptest.Server
	version  string
	// Optional: HTTP filters before the router, edits to clusters by name, extra listeners.
	filters   []*hcmv3.HttpFilter
	edit      map[string]func(*clusterv3.Cluster)
	listeners []types.Resource
	// hcm edits the connection manager of listener "out".
	hcm func(*hcmv3.HttpConnectionManager)
}

func (s sidecar) snapshot(t testing.TB) snapshot {
	t.Helper()
	out := httpListener("out", "127.0.0.1", 15001, "r", append(s.filters, routerFilter())...)
	if s.hcm != nil {
		out = hcmOf(out, s.hcm)
	}
	snap := snapshot{
		versions: map[string]string{lds: "l1", rds: s.version, cds: "c1", eds: "e1"},
		resources: map[string][]types.Resource{
			lds: append([]types.Resource{out}, s.listeners...),
			rds: {s.routes},
		},
	}
	names := make([]string, 0, len(s.clusters))
	for name := range s.clusters {
		names = append(names, name)
	}
	for _, name := range names {
		c := edsCluster(name)
		if e := s.edit[name]; e != nil {
			e(c)
		}
		snap.resources[cds] = append(snap.resources[cds], c)
		snap.resources[eds] = append(snap.resources[eds], loadAssignment(t, name, s.clusters[name]...))
	}
	return snap
}

// setup starts an xDS server, a proxy, and serves it cfg; it returns when the proxy applied it.
func setup(t testing.TB, cfg sidecar) (*xdsServer, *Proxy, string) {
	t.Helper()
	xds := startXDS(t, "127.0.0.1:0")
	node := fmt.Sprintf("node-%s", t.Name())
	xds.set(t, node, cfg.snapshot(t))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: cfg.version, cds: "c1", eds: "e1"})
	addr := p.ListenerAddr("out")
	if addr == "" {
		t.Fatal("listener out is not bound")
	}
	return xds, p, addr
}
