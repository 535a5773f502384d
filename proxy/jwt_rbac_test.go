package proxy

import (
	"crypto"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// claimID is the principal Istio compiles a request.auth.claims condition into: the claim
// at path under the payload's metadata key.
func claimID(vm *matcherv3.ValueMatcher, path ...string) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Metadata{Metadata: claimMatcher(vm, path...)}}
}

func claimMatcher(vm *matcherv3.ValueMatcher, path ...string) *matcherv3.MetadataMatcher {
	m := &matcherv3.MetadataMatcher{Filter: jwtFilterName, Value: vm}
	for _, k := range path {
		m.Path = append(m.Path, &matcherv3.MetadataMatcher_PathSegment{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: k}})
	}
	return m
}

func strVM(sm *matcherv3.StringMatcher) *matcherv3.ValueMatcher {
	return &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_StringMatch{StringMatch: sm}}
}

func listVM(sm *matcherv3.StringMatcher) *matcherv3.ValueMatcher {
	return &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_ListMatch{ListMatch: &matcherv3.ListMatcher{
		MatchPattern: &matcherv3.ListMatcher_OneOf{OneOf: strVM(sm)}}}}
}

var presentVM = &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}}

// TestRBACMetadata: metadata matchers over payloads jwt_authn really verified, as principals
// and as permissions, under ALLOW and (inverted) DENY.
func TestRBACMetadata(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey})
	p := jwtProviderOf(jwks)
	p.PayloadInMetadata = testIssuer
	f := jwtFilterOf(t, istioJWT(p))
	cl := claims("aud", []string{"shop", "web"}, "groups", []string{"dev", "admins"}, "email_verified", true, "org", map[string]any{"team": "pay"})
	cl["nothing"] = nil // a JSON null is a present value
	tok := signJWT(t, "RS256", "rsa", testRSA, cl)
	_, _, md, ok := jwtRun(t, f, "/", "Authorization", "Bearer "+tok)
	if !ok || md == nil {
		t.Fatalf("token refused or no metadata: %v %v", ok, md)
	}
	boolVM := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_BoolMatch{BoolMatch: true}}
	nullVM := &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_NullMatch_{NullMatch: &matcherv3.ValueMatcher_NullMatch{}}}
	for _, c := range []struct {
		name string
		m    *matcherv3.MetadataMatcher
		md   jwtMetadata
		want bool
	}{
		{"sub exact", claimMatcher(strVM(exact("alice")), testIssuer, "sub"), md, true},
		{"sub other", claimMatcher(strVM(exact("bob")), testIssuer, "sub"), md, false},
		{"sub prefix", claimMatcher(strVM(prefixSM("ali")), testIssuer, "sub"), md, true},
		{"iss", claimMatcher(strVM(exact(testIssuer)), testIssuer, "iss"), md, true},
		{"groups one_of", claimMatcher(listVM(exact("admins")), testIssuer, "groups"), md, true},
		{"groups one_of none", claimMatcher(listVM(exact("ops")), testIssuer, "groups"), md, false},
		{"aud list", claimMatcher(listVM(exact("web")), testIssuer, "aud"), md, true},
		{"a string claim is no list", claimMatcher(listVM(exact("alice")), testIssuer, "sub"), md, false},
		{"a list claim is no string", claimMatcher(strVM(exact("admins")), testIssuer, "groups"), md, false},
		{"nested claim", claimMatcher(strVM(exact("pay")), testIssuer, "org", "team"), md, true},
		{"through a string", claimMatcher(presentVM, testIssuer, "sub", "x"), md, false},
		{"present", claimMatcher(presentVM, testIssuer, "sub"), md, true},
		{"present null", claimMatcher(presentVM, testIssuer, "nothing"), md, true},
		{"null_match", claimMatcher(nullVM, testIssuer, "nothing"), md, true},
		{"absent", claimMatcher(presentVM, testIssuer, "phone"), md, false},
		{"bool", claimMatcher(boolVM, testIssuer, "email_verified"), md, true},
		{"number is no string", claimMatcher(strVM(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}), testIssuer, "exp"), md, false},
		{"other payload key", claimMatcher(presentVM, "other", "sub"), md, false},
		{"no verified token", claimMatcher(presentVM, testIssuer, "sub"), nil, false},
		{"inverted, no token", func() *matcherv3.MetadataMatcher {
			m := claimMatcher(presentVM, testIssuer, "sub")
			m.Invert = true
			return m
		}(), nil, true},
	} {
		in := rbacInput{r: httptest.NewRequest("GET", "/", nil), jwt: c.md}
		asID := map[string]*rbacv3.Policy{"p": policy(perms(anyPerm), ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_Metadata{Metadata: c.m}}))}
		asPerm := map[string]*rbacv3.Policy{"p": policy(perms(&rbacv3.Permission{Rule: &rbacv3.Permission_Metadata{Metadata: c.m}}), ids(anyID))}
		for side, pols := range map[string]map[string]*rbacv3.Policy{"principal": asID, "permission": asPerm} {
			if got := rbacEngineOf(t, rbacv3.RBAC_ALLOW, pols).allows(&in); got != c.want {
				t.Errorf("%s as %s: ALLOW %v, want %v", c.name, side, got, c.want)
			}
			if got := rbacEngineOf(t, rbacv3.RBAC_DENY, pols).allows(&in); got == c.want {
				t.Errorf("%s as %s: DENY %v, want %v", c.name, side, got, !c.want)
			}
		}
	}
}

// TestJWTServes drives real HTTP through a listener on 127.0.0.1:0 with Istio's order
// (jwt_authn, rbac, cors, router): a bad token is 401 and never reaches the upstream, a
// request without one passes authentication and meets RBAC (403), a good token reaches the
// upstream without its Authorization header, and the RBAC rule on the sub and groups claims
// decides who.
func TestJWTServes(t *testing.T) {
	var hits atomic.Int64
	var mu sync.Mutex
	var seen []string // the Authorization header the upstream saw, per request
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("X-Backend", "b")
		io.WriteString(w, "b")
	}))
	t.Cleanup(b.Close)
	p := jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"ec": &testEC256.PublicKey}))
	p.PayloadInMetadata = testIssuer
	allow := rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{
		"claims": policy(perms(anyPerm), ids(claimID(strVM(exact("alice")), testIssuer, "sub"),
			claimID(listVM(exact("admins")), testIssuer, "groups"))),
	})
	_, px, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"svc"}, prefixRoute("/", "b"))),
		clusters: map[string][]*httptest.Server{"b": {b}},
		filters:  []*hcmv3.HttpFilter{jwtHTTPFilter(istioJWT(p)), allow, corsFilter()}})

	sign := func(extra ...any) string { return "Bearer " + signJWT(t, "ES256", "ec", testEC256, claims(extra...)) }
	denied := 0
	for _, proto := range []struct {
		name string
		c    *http.Client
	}{{"http/1.1", newClient()}, {"h2c", h2cClient()}} {
		before := hits.Load()
		for _, c := range []struct {
			name, auth, path string
			code             int
			body, challenge  string
		}{
			{"bad signature", "Bearer " + signJWT(t, "ES256", "ec", testEC384, claims()), "/x?q=1", 401, "Jwt verification fails",
				`Bearer realm="http://svc/x?q=1", error="invalid_token"`},
			{"expired", sign("exp", time.Now().Unix()-3600), "/", 401, "Jwt is expired", `Bearer realm="http://svc/", error="invalid_token"`},
			{"wrong issuer", sign("iss", "https://evil"), "/", 401, "Jwt issuer is not configured", `Bearer realm="http://svc/", error="invalid_token"`},
			{"no token meets RBAC", "", "/", 403, "RBAC: access denied", ""},
			{"alice", sign(), "/", 200, "b", ""},
			{"bob in admins", sign("sub", "bob", "groups", []string{"admins"}), "/", 200, "b", ""},
			{"bob", sign("sub", "bob"), "/", 403, "RBAC: access denied", ""},
		} {
			var hdr []string
			if c.auth != "" {
				hdr = []string{"Authorization", c.auth}
			}
			resp := do(t, proto.c, "GET", addr, "svc", c.path, hdr...)
			body := resp.Header.Get("X-Test-Body")
			if resp.StatusCode != c.code || body != c.body || resp.Header.Get("Www-Authenticate") != c.challenge {
				t.Errorf("%s %s: %d %q %q, want %d %q %q", proto.name, c.name, resp.StatusCode, body,
					resp.Header.Get("Www-Authenticate"), c.code, c.body, c.challenge)
			}
			if c.code == 401 {
				denied++
			}
		}
		if n := hits.Load() - before; n != 2 {
			t.Errorf("%s: the upstream saw %d requests, want the 2 allowed", proto.name, n)
		}
	}
	mu.Lock()
	for _, a := range seen {
		if a != "" {
			t.Errorf("the upstream saw Authorization %q: forward false removes it", a)
		}
	}
	mu.Unlock()
	if m := metricsOf(t, px); !strings.Contains(m, `signalbox_proxy_jwt_authn_denied_total{listener="out"} 6`) || denied != 6 {
		t.Errorf("metrics do not count the 6 refusals:\n%s", grepLines(m, "jwt"))
	}
}

// TestJWTRouteCache: with forward false the filter removes the token; a route that matches
// on the Authorization header still serves the request unless clear_route_cache asks for
// the route to be picked again after the filter, as Envoy does.
func TestJWTRouteCache(t *testing.T) {
	var hits atomic.Int64
	b := countingBackend(t, "b", &hits)
	routes := routeConfiguration("r", vhost("v", []string{"svc"}, withHeader(prefixRoute("/", "b"), "authorization", prefixSM("Bearer "))))
	tok := "Bearer " + signJWT(t, "ES256", "ec", testEC256, claims())
	for _, clear := range []bool{false, true} {
		p := jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"ec": &testEC256.PublicKey}))
		p.ClearRouteCache = clear
		_, _, addr := setup(t, sidecar{version: "r1", routes: routes, clusters: map[string][]*httptest.Server{"b": {b}},
			filters: []*hcmv3.HttpFilter{jwtHTTPFilter(istioJWT(p))}})
		want := 200
		if clear {
			want = 404
		}
		if resp := do(t, newClient(), "GET", addr, "svc", "/", "Authorization", tok); resp.StatusCode != want {
			t.Errorf("clear_route_cache %v: %d, want %d", clear, resp.StatusCode, want)
		}
	}
}
