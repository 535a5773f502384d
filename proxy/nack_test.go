package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestNACKKeepsServing sends a listener with an http filter the proxy cannot honour. The
// proxy must NACK it (previous version, the response's nonce, an error naming the field), keep
// serving the old configuration, and take the next good version.
func TestNACKKeepsServing(t *testing.T) {
	b := backend(t, "b")
	good := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))}
	xds, p, addr := setup(t, good)
	node := "node-" + t.Name()

	bad := good.snapshot(t)
	bad.versions[lds] = "l2-bad"
	fault := &hcmv3.HttpFilter{Name: "envoy.filters.http.fault", ConfigType: &hcmv3.HttpFilter_TypedConfig{
		TypedConfig: mustAny(&structpb.Struct{}), // any message: the name and type are what matter
	}}
	bad.resources[lds] = []types.Resource{httpListener("out", "127.0.0.1", 15001, "r", fault, routerFilter())}
	xds.set(t, node, bad)

	nack := xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == lds && r.GetErrorDetail() != nil
	})
	if nack.GetVersionInfo() != "l1" {
		t.Errorf("NACK version_info %q, want the previous version l1", nack.GetVersionInfo())
	}
	if nack.GetResponseNonce() == "" {
		t.Error("NACK without the response nonce")
	}
	msg := nack.GetErrorDetail().GetMessage()
	for _, want := range []string{`listener "out"`, "http_filters[0]", "envoy.filters.http.fault"} {
		if !strings.Contains(msg, want) {
			t.Errorf("NACK message %q does not mention %q", msg, want)
		}
	}

	// The old configuration keeps serving, on the same socket.
	if code, got := get(t, newClient(), addr, "svc", "/"); code != 200 || got != "b" {
		t.Errorf("after NACK: %d from %q", code, got)
	}
	if got := p.ListenerAddr("out"); got != addr {
		t.Errorf("listener moved after a NACK: %s -> %s", addr, got)
	}
	if v := p.Versions()[lds]; v != "l1" {
		t.Errorf("ACKed listener version %q after a NACK, want l1", v)
	}

	// GET /config reports it.
	rec := httptest.NewRecorder()
	p.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	var dump ConfigDump
	if err := json.Unmarshal(rec.Body.Bytes(), &dump); err != nil {
		t.Fatal(err)
	}
	if dump.LastNACK == nil || dump.LastNACK.Version != "l2-bad" || !strings.Contains(dump.LastNACK.Error, "envoy.filters.http.fault") {
		t.Errorf("/config last_nack = %+v", dump.LastNACK)
	}

	// go-control-plane's cache answers every NACK with the refused version again; give that
	// loop half a second to show it is damped (undamped it runs thousands of times).
	time.Sleep(500 * time.Millisecond)

	// The next good version is taken all the same.
	fixed := good.snapshot(t)
	fixed.versions[lds] = "l3"
	xds.set(t, node, fixed)
	waitVersions(t, p, map[string]string{lds: "l3"})
	if got := p.ListenerAddr("out"); got != addr {
		t.Errorf("listener moved on a byte-identical update: %s -> %s", addr, got)
	}
	// The re-sends of the refused version were damped, not answered thousands of times.
	n := xds.countRequests(func(r *discoveryv3.DiscoveryRequest) bool { return r.GetErrorDetail() != nil })
	if n > 20 {
		t.Errorf("%d NACKs sent: the NACK loop was not damped", n)
	}
	t.Logf("%d NACKs sent while the refused version was served", n)
}

// TestNACKUnsupportedRouteField: a route action field the proxy cannot honour is refused for
// the whole RDS response.
func TestNACKUnsupportedRouteField(t *testing.T) {
	b := backend(t, "b")
	good := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))}
	xds, p, addr := setup(t, good)

	bad := good
	bad.version = "r2"
	rewrite := prefixRoute("/", "b")
	rewrite.GetRoute().IdleTimeout = durationpb.New(time.Minute)
	bad.routes = routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/ok", "b")), vhost("other", []string{"other"}, rewrite))
	xds.set(t, "node-"+t.Name(), bad.snapshot(t))
	nack := xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == rds && r.GetErrorDetail() != nil
	})
	want := `route configuration "r": virtual_hosts[1].routes[0].route.idle_timeout: field not supported`
	if got := nack.GetErrorDetail().GetMessage(); got != want {
		t.Errorf("NACK message:\n got %s\nwant %s", got, want)
	}
	if nack.GetVersionInfo() != "r1" || p.Versions()[rds] != "r1" {
		t.Errorf("versions after NACK: request %q, proxy %q", nack.GetVersionInfo(), p.Versions()[rds])
	}
	// Nothing of r2 applied: "/" still routes (r2 would only route /ok).
	if code, _ := get(t, newClient(), addr, "svc", "/"); code != http.StatusOK {
		t.Errorf("after NACK: %d", code)
	}
}

// TestNACKUnresolvedSourceCondition: a route still carrying a condition on which proxies it
// is for (the publisher resolves it per proxy) is refused, not applied to this proxy as if it
// were for every one.
func TestNACKUnresolvedSourceCondition(t *testing.T) {
	b := backend(t, "b")
	good := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))}
	xds, p, _ := setup(t, good)

	bad := good
	bad.version = "r2"
	conditional := prefixRoute("/", "b")
	md, err := structpb.NewStruct(map[string]any{"source": map[string]any{"labels": map[string]any{"app": "productpage"}}})
	if err != nil {
		t.Fatal(err)
	}
	conditional.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"signalbox": md}}
	bad.routes = routeConfiguration("r", vhost("all", []string{"*"}, conditional))
	xds.set(t, "node-"+t.Name(), bad.snapshot(t))
	nack := xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == rds && r.GetErrorDetail() != nil
	})
	if got := nack.GetErrorDetail().GetMessage(); !strings.Contains(got, "routes[0].metadata.filter_metadata.signalbox.source") {
		t.Errorf("NACK message %q does not name the field", got)
	}
	if p.Versions()[rds] != "r1" {
		t.Errorf("route version after NACK: %q, want r1", p.Versions()[rds])
	}
}
