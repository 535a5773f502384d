package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

const srds = resourcev3.ScopedRouteType

// scopedListener routes by scopes keyed on the host part of :authority, as the compiler's
// sidecar listener does.
func scopedListener(name string) *listenerv3.Listener {
	l := httpListener(name, "127.0.0.1", 15001, "unused")
	m := &hcmv3.HttpConnectionManager{
		StatPrefix: name,
		RouteSpecifier: &hcmv3.HttpConnectionManager_ScopedRoutes{ScopedRoutes: &hcmv3.ScopedRoutes{
			Name: "outbound",
			ScopeKeyBuilder: &hcmv3.ScopedRoutes_ScopeKeyBuilder{Fragments: []*hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder{{
				Type: &hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_{
					HeaderValueExtractor: &hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor{
						Name: ":authority", ElementSeparator: ":",
						ExtractType: &hcmv3.ScopedRoutes_ScopeKeyBuilder_FragmentBuilder_HeaderValueExtractor_Index{Index: 0},
					}},
			}}},
			RdsConfigSource: adsSource(),
			ConfigSpecifier: &hcmv3.ScopedRoutes_ScopedRds{ScopedRds: &hcmv3.ScopedRds{ScopedRdsConfigSource: adsSource()}},
		}},
		HttpFilters: []*hcmv3.HttpFilter{routerFilter()},
	}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(m)}
	return l
}

func scope(key, routeName string) *routev3.ScopedRouteConfiguration {
	return &routev3.ScopedRouteConfiguration{Name: "outbound/" + key, RouteConfigurationName: routeName,
		Key: &routev3.ScopedRouteConfiguration_Key{Fragments: []*routev3.ScopedRouteConfiguration_Key_Fragment{{
			Type: &routev3.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key}}}}}
}

// scopedSnapshot: scopes reviews and reviews.default -> table "rv", ratings -> table "rt".
func scopedSnapshot(t *testing.T, version string, rv, rt *routev3.RouteConfiguration, scopes []types.Resource, be map[string]*httptest.Server) snapshot {
	snap := snapshot{
		versions: map[string]string{lds: "l1", srds: "s-" + version, rds: version, cds: "c1", eds: "e1"},
		resources: map[string][]types.Resource{
			lds:  {scopedListener("out")},
			srds: scopes,
			rds:  {rv, rt},
		},
	}
	for name, s := range be {
		snap.resources[cds] = append(snap.resources[cds], edsCluster(name))
		snap.resources[eds] = append(snap.resources[eds], loadAssignment(t, name, s))
	}
	return snap
}

func TestScopedRoutesPickTheTableByHost(t *testing.T) {
	be := map[string]*httptest.Server{}
	for _, n := range []string{"reviews", "ratings", "ratings-v2"} {
		be[n] = backend(t, n)
	}
	rv := routeConfiguration("rv", vhost("reviews", []string{"reviews:9080", "reviews", "reviews.default:9080"}, prefixRoute("/", "reviews")))
	rt := routeConfiguration("rt", vhost("ratings", []string{"ratings:9080", "ratings"}, prefixRoute("/", "ratings")))
	scopes := []types.Resource{scope("reviews", "rv"), scope("reviews.default", "rv"), scope("ratings", "rt")}

	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, scopedSnapshot(t, "r1", rv, rt, scopes, be))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", srds: "s-r1", rds: "r1", cds: "c1", eds: "e1"})
	addr := p.ListenerAddr("out")
	c := newClient()
	check := func(host string, code int, want string) {
		t.Helper()
		gotCode, got := get(t, c, addr, host, "/")
		if gotCode != code || got != want {
			t.Errorf("Host %s: got %d from %q, want %d from %q", host, gotCode, got, code, want)
		}
	}
	check("reviews:9080", 200, "reviews")
	check("reviews", 200, "reviews")
	check("reviews.default:9080", 200, "reviews")
	check("ratings:9080", 200, "ratings")
	check("details:9080", 404, "")             // no scope has the key
	check("reviews.default.svc:9080", 404, "") // no scope for this name either

	// The proxy asked for exactly the tables the scopes name.
	req := xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool {
		return r.GetTypeUrl() == rds && len(r.GetResourceNames()) == 2
	})
	if got := strings.Join(req.GetResourceNames(), ","); got != "rt,rv" {
		t.Errorf("RDS subscription %s, want rt,rv", got)
	}

	// One table changes: that scope follows, the other keeps serving.
	rt2 := routeConfiguration("rt", vhost("ratings", []string{"ratings:9080", "ratings"}, prefixRoute("/", "ratings-v2")))
	xds.set(t, node, scopedSnapshot(t, "r2", rv, rt2, scopes, be))
	waitVersions(t, p, map[string]string{rds: "r2"})
	check("ratings:9080", 200, "ratings-v2")
	check("reviews:9080", 200, "reviews")

	// Two scopes with one key are refused whole: routing stays as it was.
	bad := append(scopes[:3:3], &routev3.ScopedRouteConfiguration{Name: "outbound/again", RouteConfigurationName: "rt",
		Key: scopes[0].(*routev3.ScopedRouteConfiguration).Key})
	xds.set(t, node, scopedSnapshot(t, "r3", rv, rt2, bad, be))
	deadline := time.Now().Add(testTimeout)
	for {
		d := configOf(t, p)
		if d.LastNACK != nil && d.LastNACK.TypeURL == srds {
			if !strings.Contains(d.LastNACK.Error, `same key "reviews"`) {
				t.Errorf("NACK %q should name the duplicated key", d.LastNACK.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("duplicate scope keys were not refused")
		}
		time.Sleep(20 * time.Millisecond)
	}
	check("reviews:9080", 200, "reviews")
	check("ratings", 200, "ratings-v2")
}

// A Host header names its host in any case, as DNS names are compared: the scope keyed
// "reviews" routes "Reviews:9080" and "REVIEWS", and a scope whose key has capitals (another
// control plane's) is found by the name in any case too. A key read from another header is
// matched as sent.
func TestScopedRoutesHostInAnyCase(t *testing.T) {
	be := map[string]*httptest.Server{}
	for _, n := range []string{"reviews", "ratings", "details"} {
		be[n] = backend(t, n)
	}
	rv := routeConfiguration("rv", vhost("reviews", []string{"reviews:9080", "reviews", "reviews.default:9080", "reviews.default"}, prefixRoute("/", "reviews")),
		vhost("details", []string{"details", "details:9080"}, prefixRoute("/", "details")))
	rt := routeConfiguration("rt", vhost("ratings", []string{"ratings:9080", "ratings"}, prefixRoute("/", "ratings")))
	scopes := []types.Resource{scope("reviews", "rv"), scope("reviews.default", "rv"), scope("Ratings", "rt"), scope("Details", "rv"), scope("details", "rt")}

	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, scopedSnapshot(t, "r1", rv, rt, scopes, be))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", srds: "s-r1", rds: "r1", cds: "c1", eds: "e1"})
	addr := p.ListenerAddr("out")
	c := newClient()
	for host, want := range map[string]string{
		"Reviews:9080":             "reviews",
		"REVIEWS":                  "reviews",
		"Reviews.Default:9080":     "reviews",
		"ratings:9080":             "ratings", // the scope "Ratings"
		"RATINGS":                  "ratings",
		"Details":                  "details", // as sent: the scope "Details", table rv
		"DETAILS":                  "",        // "details" is a scope of its own: table rt, no such host
		"reviews.default.svc:9080": "",
	} {
		code, got := get(t, c, addr, host, "/")
		wantCode := 200
		if want == "" {
			wantCode = 404
		}
		if code != wantCode || got != want {
			t.Errorf("Host %s: got %d from %q, want %d from %q", host, code, got, wantCode, want)
		}
	}
}

func TestScopeKeyFolding(t *testing.T) {
	a, b, c := &routeTable{}, &routeTable{}, &routeTable{}
	host := &routeTable{keyOf: &scopeKeyBuilder{separator: ":"}, scopes: map[string]*routeTable{"reviews": a, "RATINGS": b, "Ratings": c}}
	host.folded = foldScopeKeys(host.scopes)
	hdr := &routeTable{keyOf: &scopeKeyBuilder{header: "X-Route"}, scopes: host.scopes}
	for _, tc := range []struct {
		t    *routeTable
		key  string
		want *routeTable
	}{
		{host, "reviews", a}, {host, "ReViEwS", a}, {host, "ratings", b}, {host, "Ratings", c}, {host, "details", nil},
		{hdr, "reviews", a}, {hdr, "REVIEWS", nil}, {hdr, "ratings", nil},
	} {
		if got := tc.t.scope(tc.key); got != tc.want {
			t.Errorf("key %q (header %q): got %p, want %p", tc.key, tc.t.keyOf.header, got, tc.want)
		}
	}
	if f := foldScopeKeys(map[string]*routeTable{"reviews": a}); f != nil {
		t.Errorf("lower-case keys need no folded index, got %v", f)
	}
}

func TestScopeKeyBuilder(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	for _, c := range []struct {
		b      scopeKeyBuilder
		host   string
		hdr    string
		want   string
		wantOK bool
	}{
		{scopeKeyBuilder{separator: ":"}, "reviews:9080", "", "reviews", true},
		{scopeKeyBuilder{separator: ":"}, "reviews", "", "reviews", true},
		{scopeKeyBuilder{separator: ":", index: 1}, "reviews:9080", "", "9080", true},
		{scopeKeyBuilder{separator: ":", index: 1}, "reviews", "", "", false},
		{scopeKeyBuilder{}, "reviews:9080", "", "reviews:9080", true},
		{scopeKeyBuilder{header: "X-Route", separator: ","}, "h", "a,b", "a", true},
		{scopeKeyBuilder{header: "X-Route"}, "h", "", "", false},
	} {
		r.Host = c.host
		r.Header = http.Header{}
		if c.hdr != "" {
			r.Header.Set("X-Route", c.hdr)
		}
		got, ok := c.b.key(r)
		if got != c.want || ok != c.wantOK {
			t.Errorf("%+v on Host %q header %q: got %q %v, want %q %v", c.b, c.host, c.hdr, got, ok, c.want, c.wantOK)
		}
	}
}

// A key builder the proxy cannot honour is refused at the field.
func TestScopedRoutesRefusedFields(t *testing.T) {
	l := scopedListener("out")
	var m hcmv3.HttpConnectionManager
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&m); err != nil {
		t.Fatal(err)
	}
	m.GetScopedRoutes().GetScopedRds().ScopedRdsConfigSource = &core.ConfigSource{
		ConfigSourceSpecifier: &core.ConfigSource_Path{Path: "/etc/scopes"}}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&m)}
	_, err := decodeListener(l)
	if err == nil || !strings.Contains(err.Error(), "scoped_routes.scoped_rds.scoped_rds_config_source") {
		t.Errorf("a file config source for scopes: err %v, want it named", err)
	}
}
