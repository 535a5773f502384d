package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Keys generated once per test binary; tokens are signed by the tiny signer below, so every
// test verifies what real crypto produced.
var (
	testRSA, _   = rsa.GenerateKey(rand.Reader, 2048)
	otherRSA, _  = rsa.GenerateKey(rand.Reader, 2048)
	testEC256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	testEC384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
)

const testIssuer = "https://issuer.example"

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signJWT signs claims with key under alg (RS*, PS*, ES*), adding kid when non-empty.
func signJWT(t testing.TB, alg, kid string, key crypto.Signer, claims map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	hj, _ := json.Marshal(hdr)
	pj, _ := json.Marshal(claims)
	signed := b64(hj) + "." + b64(pj)
	h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[2:]]
	d := h.New()
	d.Write([]byte(signed))
	digest := d.Sum(nil)
	var sig []byte
	var err error
	switch alg[:2] {
	case "RS":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, digest)
	case "PS":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES":
		k := key.(*ecdsa.PrivateKey)
		r, s, e := ecdsa.Sign(rand.Reader, k, digest)
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
		err = e
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + b64(sig)
}

// jwksOf is a JWKS JSON of the public keys, each with its kid ("" for none).
func jwksOf(keys map[string]crypto.PublicKey) string {
	var out []map[string]any
	for kid, k := range keys {
		m := map[string]any{}
		if kid != "" && !strings.HasPrefix(kid, "nokid") {
			m["kid"] = kid
		}
		switch k := k.(type) {
		case *rsa.PublicKey:
			m["kty"], m["n"], m["e"] = "RSA", b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes())
		case *ecdsa.PublicKey:
			size := (k.Curve.Params().BitSize + 7) / 8
			m["kty"], m["crv"] = "EC", k.Curve.Params().Name
			m["x"], m["y"] = b64(k.X.FillBytes(make([]byte, size))), b64(k.Y.FillBytes(make([]byte, size)))
		}
		out = append(out, m)
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	return string(b)
}

func claims(extra ...any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": testIssuer, "sub": "alice", "aud": "shop", "iat": now, "exp": now + 600}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
		} else {
			c[extra[i].(string)] = extra[i+1]
		}
	}
	return c
}

func jwtProviderOf(jwks string) *jwtv3.JwtProvider {
	return &jwtv3.JwtProvider{Issuer: testIssuer, Audiences: []string{"shop"}, PayloadInMetadata: "payload",
		JwksSourceSpecifier: &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: jwks}}}}
}

func providerReq(name string) *jwtv3.JwtRequirement {
	return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_ProviderName{ProviderName: name}}
}

var allowMissingReq = &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}}

// istioJWT is the configuration Istio emits for one RequestAuthentication rule: requires_any
// of the provider and allow_missing on every path.
func istioJWT(p *jwtv3.JwtProvider) *jwtv3.JwtAuthentication {
	return jwtConfig(map[string]*jwtv3.JwtProvider{"origins-0": p}, &jwtv3.JwtRequirement{
		RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{
			Requirements: []*jwtv3.JwtRequirement{providerReq("origins-0"), allowMissingReq}}}})
}

func jwtConfig(providers map[string]*jwtv3.JwtProvider, req *jwtv3.JwtRequirement) *jwtv3.JwtAuthentication {
	return &jwtv3.JwtAuthentication{Providers: providers, BypassCorsPreflight: true, Rules: []*jwtv3.RequirementRule{{
		Match:           &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		RequirementType: &jwtv3.RequirementRule_Requires{Requires: req}}}}
}

func jwtHTTPFilter(m *jwtv3.JwtAuthentication) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: jwtFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(m)}}
}

func jwtFilterOf(t *testing.T, m *jwtv3.JwtAuthentication) *jwtFilter {
	t.Helper()
	f, err := decodeJWTFilter("jwt", mustAny(m))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestJWTDecodeAccepts: Istio's shapes (one provider; several with requires_all inside
// requires_any), every accepted field, before RBAC, cors and fault.
func TestJWTDecodeAccepts(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey})
	p1 := jwtProviderOf(jwks)
	p1.FromHeaders = []*jwtv3.JwtHeader{{Name: "x-token", ValuePrefix: "Tok "}}
	p1.FromParams = []string{"tok"}
	p1.FromCookies = []string{"session"}
	p1.Forward, p1.ForwardPayloadHeader, p1.PadForwardPayloadHeader, p1.ClockSkewSeconds = true, "x-payload", true, 5
	p1.ClearRouteCache = true
	p1.NormalizePayloadInMetadata = &jwtv3.JwtProvider_NormalizePayload{SpaceDelimitedClaims: []string{"scope"}}
	p2 := jwtProviderOf(jwks)
	p2.Issuer = "other"
	anyOf := func(rs ...*jwtv3.JwtRequirement) *jwtv3.JwtRequirement {
		return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: rs}}}
	}
	inner := &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAll{RequiresAll: &jwtv3.JwtRequirementAndList{
		Requirements: []*jwtv3.JwtRequirement{anyOf(providerReq("origins-0"), allowMissingReq), anyOf(providerReq("origins-1"), allowMissingReq)}}}}
	m := jwtConfig(map[string]*jwtv3.JwtProvider{"origins-0": p1, "origins-1": p2},
		anyOf(providerReq("origins-0"), providerReq("origins-1"), inner))
	m.StripFailureResponse = true
	lc, err := decodeRBACListener(jwtHTTPFilter(m), rbacHTTPFilter(0, nil), corsFilter(), faultFilter())
	if err != nil {
		t.Fatal(err)
	}
	f := lc.filters.jwt
	if f == nil || len(f.providers) != 2 || !f.bypassCORS || !f.strip || !f.clearRouteCache || f.listener != "gw" {
		t.Fatalf("filter %+v", f)
	}
	jp := f.providers[0]
	if jp.skew != 5 || jp.payloadHeader != "X-Payload" || len(jp.locs) != 3 || len(jp.keys) != 1 || f.providers[1].skew != 60 {
		t.Errorf("provider %+v", jp)
	}
	// Without locations, Envoy's defaults.
	if l := f.providers[1].locs; len(l) != 2 || l[0].name != "Authorization" || l[0].prefix != "Bearer " || l[1].name != "access_token" {
		t.Errorf("default locations %+v", l)
	}
	// A listener without the filter has none: one nil check per request.
	if lc, err := decodeRBACListener(corsFilter()); err != nil || lc.filters.jwt != nil {
		t.Errorf("no jwt_authn: %v, %v", lc.filters.jwt, err)
	}
}

// TestJWTDecodeRejects: what the proxy cannot honour NACKs the listener, naming the field.
func TestJWTDecodeRejects(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"k1": &testRSA.PublicKey})
	with := func(edit func(*jwtv3.JwtProvider)) []*hcmv3.HttpFilter {
		p := jwtProviderOf(jwks)
		edit(p)
		return []*hcmv3.HttpFilter{jwtHTTPFilter(istioJWT(p))}
	}
	const f0 = "http_filters[0].typed_config."
	const pr = f0 + `providers["origins-0"].`
	for want, filters := range map[string][]*hcmv3.HttpFilter{
		pr + "remote_jwks.async_fetch: field not supported": with(func(p *jwtv3.JwtProvider) {
			p.JwksSourceSpecifier = &jwtv3.JwtProvider_RemoteJwks{RemoteJwks: &jwtv3.RemoteJwks{HttpUri: &corev3.HttpUri{
				Uri: "https://x/jwks", HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: "c"}, Timeout: durationpb.New(time.Second)},
				AsyncFetch: &jwtv3.JwksAsyncFetch{}}}
		}),
		pr + "jwt_cache_config: field not supported": with(func(p *jwtv3.JwtProvider) {
			p.JwtCacheConfig = &jwtv3.JwtCacheConfig{JwtCacheSize: 10}
		}),
		pr + "claim_to_headers: field not supported": with(func(p *jwtv3.JwtProvider) {
			p.ClaimToHeaders = []*jwtv3.JwtClaimToHeader{{HeaderName: "x-sub", ClaimName: "sub"}}
		}),
		pr + "header_in_metadata: field not supported": with(func(p *jwtv3.JwtProvider) { p.HeaderInMetadata = "h" }),
		pr + "require_expiration: field not supported": with(func(p *jwtv3.JwtProvider) { p.RequireExpiration = true }),
		pr + "local_jwks.filename: open /nonexistent/jwks.json": with(func(p *jwtv3.JwtProvider) {
			p.JwksSourceSpecifier = &jwtv3.JwtProvider_LocalJwks{LocalJwks: &corev3.DataSource{
				Specifier: &corev3.DataSource_Filename{Filename: "/nonexistent/jwks.json"}}}
		}),
		f0 + "requirement_map: field not supported": {jwtHTTPFilter(&jwtv3.JwtAuthentication{
			RequirementMap: map[string]*jwtv3.JwtRequirement{"r": allowMissingReq}})},
		f0 + `rules[0].requires.provider_name: provider "nope" is not configured`: {jwtHTTPFilter(jwtConfig(nil, providerReq("nope")))},
		f0 + "rules[0].match.headers: field not supported": {jwtHTTPFilter(&jwtv3.JwtAuthentication{Rules: []*jwtv3.RequirementRule{{
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
				Headers: []*routev3.HeaderMatcher{{Name: "x"}}}}}})},
		"http_filters[0].typed_config: type \"type.googleapis.com/google.protobuf.Struct\"": {{Name: jwtFilterName, IsOptional: true,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}}},
		"http_filters[1]: the jwt_authn filter must come before": {rbacHTTPFilter(0, nil), jwtHTTPFilter(istioJWT(jwtProviderOf(jwks)))},
	} {
		_, err := decodeRBACListener(filters...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant an error with %q", err, want)
		}
	}
}

// jwtRun runs the filter over one request; it returns the recorder and the request as it
// would be forwarded.
func jwtRun(t *testing.T, f *jwtFilter, target string, hdr ...string) (*httptest.ResponseRecorder, *http.Request, jwtMetadata, bool) {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "shop.example.com"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	var reg statsRegistry
	md, ok := f.authenticate(w, r, &reg)
	return w, r, md, ok
}

// TestJWTVerify: real signatures over Istio's requirement, one case per outcome.
func TestJWTVerify(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey, "ec": &testEC256.PublicKey, "nokid384": &testEC384.PublicKey})
	istio := jwtFilterOf(t, istioJWT(jwtProviderOf(jwks)))
	strict := jwtFilterOf(t, jwtConfig(map[string]*jwtv3.JwtProvider{"p": jwtProviderOf(jwks)}, providerReq("p")))
	// Only keys with a kid: a token naming another kid meets no key at all.
	kidded := jwtFilterOf(t, istioJWT(jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey}))))
	now := time.Now().Unix()
	var reg statsRegistry
	var denied uint64
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	good := signJWT(t, "RS256", "rsa", testRSA, claims())
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64([]byte(`{"iss":"`+testIssuer+`","sub":"mallory","aud":"shop"}`)) + "." + parts[2]
	for _, c := range []struct {
		name   string
		f      *jwtFilter
		target string
		hdr    []string
		code   int    // 0: passes
		body   string // the 401's body
	}{
		{"RS256", kidded, "/", bearer(good), 0, ""},
		{"ES256", istio, "/", bearer(signJWT(t, "ES256", "ec", testEC256, claims())), 0, ""},
		{"PS256", istio, "/", bearer(signJWT(t, "PS256", "rsa", testRSA, claims())), 0, ""},
		{"ES384 without kid tries every key", istio, "/", bearer(signJWT(t, "ES384", "", testEC384, claims())), 0, ""},
		{"RS512", istio, "/", bearer(signJWT(t, "RS512", "rsa", testRSA, claims())), 0, ""},
		{"wrong key", istio, "/", bearer(signJWT(t, "RS256", "rsa", otherRSA, claims())), 401, "Jwt verification fails"},
		{"unknown kid, a key without kid is tried", istio, "/", bearer(signJWT(t, "RS256", "gone", testRSA, claims())), 401, "Jwt verification fails"},
		{"unknown kid", kidded, "/", bearer(signJWT(t, "RS256", "gone", testRSA, claims())), 401, "Jwks doesn't have key to match kid or alg from Jwt"},
		{"tampered payload", istio, "/", bearer(tampered), 401, "Jwt verification fails"},
		{"expired", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("exp", now-120))), 401, "Jwt is expired"},
		{"expired within the skew", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("exp", now-30))), 0, ""},
		{"nbf in the future", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("nbf", now+600))), 401, "Jwt not yet valid"},
		{"nbf within the skew", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("nbf", now+30))), 0, ""},
		{"wrong issuer", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("iss", "https://evil"))), 401, "Jwt issuer is not configured"},
		{"wrong audience", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("aud", []string{"a", "b"}))), 403, "Audiences in Jwt are not allowed"},
		{"audience in a list, with a scheme", istio, "/", bearer(signJWT(t, "RS256", "rsa", testRSA, claims("aud", []string{"x", "https://shop/"}))), 0, ""},
		{"not a JWT", istio, "/", bearer("abc"), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"missing, allow_missing", istio, "/", nil, 0, ""},
		{"missing, required", strict, "/", nil, 401, "Jwt is missing"},
		{"other scheme is no token", strict, "/", []string{"Authorization", "Basic abc"}, 401, "Jwt is missing"},
		{"access_token parameter", strict, "/?access_token=" + good, nil, 0, ""},
		{"bad parameter", strict, "/?access_token=" + b64([]byte("notjson")) + ".e30.AA", nil, 401, "Jwt header is an invalid JSON"},
		{"no alg", strict, "/?access_token=e30.e30.AA", nil, 401, "Jwt header [alg] field is required and must be a string"},
		{"preflight bypassed", strict, "/", []string{"Origin", "https://a", "Access-Control-Request-Method", "GET"}, 0, ""},
	} {
		r := httptest.NewRequest("GET", c.target, nil)
		if c.name == "preflight bypassed" {
			r.Method = http.MethodOptions
		}
		r.Host = "shop.example.com"
		for i := 0; i+1 < len(c.hdr); i += 2 {
			r.Header.Add(c.hdr[i], c.hdr[i+1])
		}
		w := httptest.NewRecorder()
		md, ok := c.f.authenticate(w, r, &reg)
		if c.code == 0 {
			if !ok {
				t.Errorf("%s: refused %d %q", c.name, w.Code, w.Body.String())
			}
			continue
		}
		if ok || w.Code != c.code || w.Body.String() != c.body || md != nil {
			t.Errorf("%s: ok %v, %d %q, want %d %q", c.name, ok, w.Code, w.Body.String(), c.code, c.body)
		}
		wantAuth := `Bearer realm="http://shop.example.com` + c.target + `"`
		if c.body != "Jwt is missing" {
			wantAuth += `, error="invalid_token"`
		}
		if got := w.Header().Get("Www-Authenticate"); got != wantAuth {
			t.Errorf("%s: www-authenticate %q, want %q", c.name, got, wantAuth)
		}
		denied++
	}
	if got := reg.listener("").jwtDenied.Load(); got != denied {
		t.Errorf("counted %d refusals, want %d", got, denied)
	}
}

// TestJWTLocations: a custom header with its prefix, a parameter, forward false removing the
// token from what is forwarded, forward true keeping it, and the payload header (which a
// client cannot forge).
func TestJWTLocations(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey})
	tok := signJWT(t, "RS256", "rsa", testRSA, claims("scope", "read write"))
	p := jwtProviderOf(jwks)
	p.FromHeaders = []*jwtv3.JwtHeader{{Name: "x-jwt", ValuePrefix: "Istio "}}
	p.FromParams = []string{"token"}
	p.ForwardPayloadHeader = "x-jwt-payload"
	p.NormalizePayloadInMetadata = &jwtv3.JwtProvider_NormalizePayload{SpaceDelimitedClaims: []string{"scope"}}
	f := jwtFilterOf(t, jwtConfig(map[string]*jwtv3.JwtProvider{"p": p}, providerReq("p")))

	w, r, md, ok := jwtRun(t, f, "/a", "X-Jwt", "Istio "+tok, "X-Jwt-Payload", "forged", "Authorization", "Bearer "+tok)
	if !ok {
		t.Fatalf("custom header: %d %q", w.Code, w.Body.String())
	}
	if r.Header.Get("X-Jwt") != "" || r.Header.Get("Authorization") == "" {
		t.Errorf("forward false: x-jwt %q, authorization %q: want the token removed, the other header kept", r.Header.Get("X-Jwt"), r.Header.Get("Authorization"))
	}
	if got := r.Header.Values("X-Jwt-Payload"); len(got) != 1 || got[0] != strings.Split(tok, ".")[1] {
		t.Errorf("payload header %q", got)
	}
	pl, _ := md["payload"].(map[string]any)
	if pl["sub"] != "alice" || len(pl["scope"].([]any)) != 2 {
		t.Errorf("metadata %v", md)
	}
	if w, _, _, ok := jwtRun(t, f, "/a", "X-Jwt", "Bearer "+tok); ok || w.Body.String() != "Jwt is missing" {
		t.Errorf("wrong prefix: %v %q", ok, w.Body.String())
	}
	_, r, _, ok = jwtRun(t, f, "/a?x=1&token="+tok+"&y=2")
	if !ok || r.URL.RawQuery != "x=1&y=2" || r.RequestURI != "/a?x=1&y=2" {
		t.Errorf("parameter: ok %v, forwarded query %q, uri %q", ok, r.URL.RawQuery, r.RequestURI)
	}
	p.Forward = true
	f = jwtFilterOf(t, jwtConfig(map[string]*jwtv3.JwtProvider{"p": p}, providerReq("p")))
	if _, r, _, ok = jwtRun(t, f, "/a", "X-Jwt", "Istio "+tok); !ok || r.Header.Get("X-Jwt") != "Istio "+tok {
		t.Errorf("forward true: %v %q", ok, r.Header.Get("X-Jwt"))
	}
}

// TestJWTRequirements: Envoy's requirement semantics over two providers, as Istio emits
// them for two issuers (requires_any of both and allow_missing) and the other forms.
func TestJWTRequirements(t *testing.T) {
	a := jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey}))
	a.PayloadInMetadata = "a"
	b := jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"ec": &testEC256.PublicKey}))
	b.Issuer, b.PayloadInMetadata = "other", "b"
	b.FromHeaders = []*jwtv3.JwtHeader{{Name: "x-b"}}
	providers := map[string]*jwtv3.JwtProvider{"a": a, "b": b}
	anyOf := func(rs ...*jwtv3.JwtRequirement) *jwtv3.JwtRequirement {
		return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAny{RequiresAny: &jwtv3.JwtRequirementOrList{Requirements: rs}}}
	}
	allOf := func(rs ...*jwtv3.JwtRequirement) *jwtv3.JwtRequirement {
		return &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_RequiresAll{RequiresAll: &jwtv3.JwtRequirementAndList{Requirements: rs}}}
	}
	failed := &jwtv3.JwtRequirement{RequiresType: &jwtv3.JwtRequirement_AllowMissingOrFailed{AllowMissingOrFailed: &emptypb.Empty{}}}
	istio := jwtFilterOf(t, jwtConfig(providers, anyOf(providerReq("a"), providerReq("b"), allowMissingReq)))
	both := jwtFilterOf(t, jwtConfig(providers, allOf(providerReq("a"), providerReq("b"))))
	lenient := jwtFilterOf(t, jwtConfig(providers, failed))
	onlyMissing := jwtFilterOf(t, jwtConfig(providers, anyOf(allowMissingReq, allowMissingReq)))

	ta := "Bearer " + signJWT(t, "RS256", "rsa", testRSA, claims())
	tb := signJWT(t, "ES256", "ec", testEC256, claims("iss", "other"))
	expired := "Bearer " + signJWT(t, "RS256", "rsa", testRSA, claims("exp", time.Now().Unix()-3600))
	unknown := "Bearer " + signJWT(t, "RS256", "rsa", testRSA, claims("iss", "nobody"))
	for _, c := range []struct {
		name string
		f    *jwtFilter
		hdr  []string
		body string   // "" passes
		keys []string // the payloads verified
	}{
		{"istio: none", istio, nil, "", nil},
		{"istio: a", istio, []string{"Authorization", ta}, "", []string{"a"}},
		{"istio: b", istio, []string{"X-B", tb}, "", []string{"b"}},
		{"istio: unknown issuer", istio, []string{"Authorization", unknown}, "Jwt issuer is not configured", nil},
		{"istio: expired beats missing", istio, []string{"Authorization", expired}, "Jwt is expired", nil},
		{"all: both", both, []string{"Authorization", ta, "X-B", tb}, "", []string{"a", "b"}},
		{"all: one missing", both, []string{"Authorization", ta}, "Jwt is missing", nil},
		{"allow_missing_or_failed: bad", lenient, []string{"Authorization", expired}, "", nil},
		{"allow_missing_or_failed: good", lenient, []string{"X-B", tb}, "", []string{"b"}},
		{"allow_missing alone: none", onlyMissing, nil, "", nil},
		{"allow_missing alone: a bad token fails", onlyMissing, []string{"Authorization", expired}, "Jwt is expired", nil},
		{"allow_missing alone: good", onlyMissing, []string{"Authorization", ta}, "", []string{"a"}},
	} {
		w, _, md, ok := jwtRun(t, c.f, "/", c.hdr...)
		if ok != (c.body == "") || w.Body.String() != c.body {
			t.Errorf("%s: ok %v %q, want %q", c.name, ok, w.Body.String(), c.body)
		}
		if got := sortedKeys(md); strings.Join(got, ",") != strings.Join(c.keys, ",") {
			t.Errorf("%s: payloads %v, want %v", c.name, got, c.keys)
		}
	}
}
