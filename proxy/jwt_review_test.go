package proxy

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"

	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"testing"
)

// TestJWTAudienceOneScheme: jwt_verify_lib's sanitizeAudience strips one scheme prefix,
// "http://" or "https://", not both, so an audience of "http://https://shop" is
// "https://shop", which a provider wanting "shop" does not allow.
func TestJWTAudienceOneScheme(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey})
	f := jwtFilterOf(t, istioJWT(jwtProviderOf(jwks)))
	for _, c := range []struct {
		aud  string
		code int // 0: passes
	}{
		{"shop", 0},
		{"https://shop/", 0},
		{"http://shop", 0},
		{"http://https://shop", 403},
		{"https://http://shop/", 403},
		{"shop//", 403},
	} {
		tok := signJWT(t, "RS256", "rsa", testRSA, claims("aud", c.aud))
		w, _, _, ok := jwtRun(t, f, "/", "Authorization", "Bearer "+tok)
		if (c.code == 0) != ok || (c.code != 0 && w.Code != c.code) {
			t.Errorf("aud %q: ok %v, %d, want %d", c.aud, ok, w.Code, c.code)
		}
	}
}

// TestJWTEmptySections: jwt_verify_lib splits the token on dots skipping empty parts, so a
// token with an empty header, payload or signature is not in the form of three sections.
func TestJWTEmptySections(t *testing.T) {
	for _, s := range []string{"..", "e30..AA", ".e30.AA", "e30.e30.", "a..c"} {
		if _, st := parseJWT(s); st != jwtBadFormat {
			t.Errorf("%q: %v, want %v", s, st, jwtBadFormat)
		}
	}
}

// TestJWKSAsJWTVerifyLib: the keys jwt_verify_lib keeps and drops: an RSA exponent other than
// 3 and 65537 is refused, an oct key whose k decodes to nothing is refused (an empty HMAC
// secret would let anyone sign), a kid or alg that is not a string is ignored rather than
// making the key unusable, and an entry of "keys" that is not an object is skipped without
// losing the others.
func TestJWKSAsJWTVerifyLib(t *testing.T) {
	rsaKey := func(e string) map[string]any {
		return map[string]any{"kty": "RSA", "n": b64(testRSA.N.Bytes()), "e": e}
	}
	for _, c := range []struct {
		name string
		keys []any
		want int
	}{
		{"e 65537", []any{rsaKey("AQAB")}, 1},
		{"e 3", []any{rsaKey("Aw")}, 1},
		{"e 5", []any{rsaKey("BQ")}, 0},
		{"e 17", []any{rsaKey("EQ")}, 0},
		{"e 65537 with a leading zero", []any{rsaKey("AAEAAQ")}, 1},
		{"oct k empty after padding", []any{map[string]any{"kty": "oct", "k": "=="}}, 0},
		{"oct", []any{map[string]any{"kty": "oct", "k": b64([]byte("secret"))}}, 1},
		{"kid a number", []any{map[string]any{"kty": "oct", "kid": 5, "k": b64([]byte("secret"))}}, 1},
		{"alg a number", []any{map[string]any{"kty": "oct", "alg": 5, "k": b64([]byte("secret"))}}, 1},
		{"a string among the keys", []any{"x", 7, nil, map[string]any{"kty": "oct", "k": b64([]byte("secret"))}}, 1},
	} {
		doc, _ := json.Marshal(map[string]any{"keys": c.keys})
		if got := len(parseJWKS(doc)); got != c.want {
			t.Errorf("%s: %d keys, want %d", c.name, got, c.want)
		}
	}
	oct := `{"kty":"oct","k":"` + b64([]byte("secret")) + `"}`
	for doc, want := range map[string]int{
		`{"keys":[` + oct + `]}`:                1,
		`{"Keys":[` + oct + `]}`:                0,
		`{"KEYS":[` + oct + `]}`:                0,
		`{"keys":[` + oct + `],"Keys":[]}`:      1,
		`{"keys":{"a":` + oct + `}}`:            0,
		`[` + oct + `]`:                         0,
		`{"keys":[` + oct + `,` + oct + `]} x`:  0,
		`{"keys":null}`:                         0,
		`{"other":1,"keys":[` + oct + `,null]}`: 1,
	} {
		if got := len(parseJWKS([]byte(doc))); got != want {
			t.Errorf("%s: %d keys, want %d", doc, got, want)
		}
	}

	// End to end: a JWKS whose only secret is empty verifies no token, not even one MACed
	// with the empty key.
	empty := `{"keys":[{"kty":"oct","k":"="}]}`
	f := jwtFilterOf(t, jwtConfig(map[string]*jwtv3.JwtProvider{"p": jwtProviderOf(empty)}, providerReq("p")))
	tok := signRaw(map[string]any{"alg": "HS256"}, claims(), hmacSign(crypto.SHA256, nil))
	if _, _, _, ok := jwtRun(t, f, "/", "Authorization", "Bearer "+tok); ok {
		t.Error("a token MACed with the empty key passed")
	}

	// A key with a numeric kid is one without a kid: a token naming any kid is tried on it.
	numKid := `{"keys":[{"kty":"oct","kid":5,"k":"` + b64([]byte("secret")) + `"}]}`
	f = jwtFilterOf(t, jwtConfig(map[string]*jwtv3.JwtProvider{"p": jwtProviderOf(numKid)}, providerReq("p")))
	tok = signRaw(map[string]any{"alg": "HS256", "kid": "k1"}, claims(), hmacSign(crypto.SHA256, []byte("secret")))
	if w, _, _, ok := jwtRun(t, f, "/", "Authorization", "Bearer "+tok); !ok {
		t.Errorf("a key with a numeric kid: %d %q", w.Code, w.Body.String())
	}
}

// TestJWTTokenAsEnvoyFindsIt: a token in the query or a cookie is found as Envoy's
// extractor finds it, so one net/http would skip as malformed is still verified (and
// refused) rather than missing, which allow_missing would let through to a backend that
// may read it unverified.
func TestJWTTokenAsEnvoyFindsIt(t *testing.T) {
	jwks := jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey})
	istio := jwtFilterOf(t, istioJWT(jwtProviderOf(jwks)))
	p := jwtProviderOf(jwks)
	p.FromCookies = []string{"jwt"}
	cookie := jwtFilterOf(t, istioJWT(p))
	good := signJWT(t, "RS256", "rsa", testRSA, claims())
	forged := signJWT(t, "RS256", "rsa", otherRSA, claims("sub", "admin"))
	for _, c := range []struct {
		name   string
		f      *jwtFilter
		target string
		hdr    []string
		pass   bool
		uri    string // the RequestURI forwarded, when it passes
	}{
		{"a semicolon in the parameter", istio, "/?access_token=" + forged + ";", nil, false, ""},
		{"a semicolon after the parameter", istio, "/?access_token=" + forged + ";x=1", nil, false, ""},
		{"a bad escape", istio, "/?access_token=%zz" + forged, nil, false, ""},
		{"a plus is not a space", istio, "/?access_token=+" + good, nil, false, ""},
		{"an escaped token", istio, "/?access_token=" + strings.ReplaceAll(good, ".", "%2E"), nil, true, "/"},
		{"other parameters kept as sent", istio, "/?b=x;y&access_token=" + good + "&a=%41", nil, true, "/?b=x;y&a=%41"},
		{"a cookie value with a backslash", cookie, "/", []string{"Cookie", "jwt=" + forged + "\\"}, false, ""},
		{"a cookie value with a space", cookie, "/", []string{"Cookie", "a=1; jwt=" + forged + " x"}, false, ""},
		{"a quoted cookie", cookie, "/", []string{"Cookie", `jwt="` + good + `"`}, true, "/"},
		{"the first of two cookies", cookie, "/", []string{"Cookie", "jwt=" + good, "Cookie", "jwt=" + forged}, true, "/"},
		{"no token", cookie, "/?a=1", []string{"Cookie", "jwtx=" + forged}, true, "/?a=1"},
	} {
		w, r, _, ok := jwtRun(t, c.f, c.target, c.hdr...)
		if ok != c.pass {
			t.Errorf("%s: passed %v (%d %q), want %v", c.name, ok, w.Code, w.Body.String(), c.pass)
			continue
		}
		if ok && r.RequestURI != c.uri {
			t.Errorf("%s: forwards %q, want %q", c.name, r.RequestURI, c.uri)
		}
	}
}

// FuzzJWTExtract: the query and cookie readers of the token locations parse attacker input
// and must not panic; a parameter removed from the query is no longer found in it.
func FuzzJWTExtract(f *testing.F) {
	for _, s := range []string{"", "access_token=a.b.c", "a=%zz&access_token=%2", "access_token", "&&=&%", "x=1;access_token=y", "%61ccess_token=z"} {
		f.Add(s, "jwt=\"a.b.c\"; x=1")
	}
	f.Fuzz(func(t *testing.T, query, cookie string) {
		if strings.ContainsAny(query, "# ") {
			return
		}
		jwtCookie([]string{cookie}, "jwt")
		r, err := http.NewRequest("GET", "/p?"+query, nil)
		if err != nil {
			return
		}
		r.RequestURI = "/p?" + query
		if _, ok := jwtQueryParam(r.URL.RawQuery, "access_token"); !ok {
			return
		}
		removeToken(r, &jwtLocation{jwtLocationSpec: jwtLocationSpec{kind: jlParam, name: "access_token"}})
		if v, ok := jwtQueryParam(r.URL.RawQuery, "access_token"); ok {
			t.Errorf("%q: still has access_token=%q after its removal (%q)", query, v, r.URL.RawQuery)
		}
	})
}

// TestJWTPSSSaltLength: BoringSSL verifies an RSA-PSS signature with the salt length it
// recovers from it, so Envoy accepts a PS256 token whose salt is not the hash's length (the
// maximum, some signers' default) as well as one whose salt is.
func TestJWTPSSSaltLength(t *testing.T) {
	keys := parseJWKS([]byte(jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey})))
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 1, 20} {
		tok := signRaw(map[string]any{"alg": "PS256", "kid": "rsa"}, claims(), func(b []byte) []byte {
			d := sha256.Sum256(b)
			sig, err := rsa.SignPSS(rand.Reader, testRSA, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
			if err != nil {
				t.Fatal(err)
			}
			return sig
		})
		jt, st := parseJWT(tok)
		if st == jwtOK {
			st = verifyJWT(jt, keys)
		}
		if st != jwtOK {
			t.Errorf("salt length %d: %v", salt, st)
		}
	}
}

// TestJWTSpaceDelimitedEmpty: Envoy's normalize_payload_in_metadata makes a claim a list as
// it adds the claim's first space-separated part, so a claim with none ("" or spaces) stays
// the string it was, which a string matcher still reads.
func TestJWTSpaceDelimitedEmpty(t *testing.T) {
	p := jwtProviderOf(jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey}))
	p.NormalizePayloadInMetadata = &jwtv3.JwtProvider_NormalizePayload{SpaceDelimitedClaims: []string{"scope", "roles"}}
	f := jwtFilterOf(t, istioJWT(p))
	tok := signJWT(t, "RS256", "rsa", testRSA, claims("scope", "", "roles", "  ", "groups", " a b"))
	_, _, md, ok := jwtRun(t, f, "/", "Authorization", "Bearer "+tok)
	if !ok {
		t.Fatal("refused")
	}
	payload, _ := md["payload"].(map[string]any)
	if v, ok := payload["scope"].(string); !ok || v != "" {
		t.Errorf("scope %#v, want \"\"", payload["scope"])
	}
	if v, ok := payload["roles"].(string); !ok || v != "  " {
		t.Errorf("roles %#v, want \"  \"", payload["roles"])
	}
	if v, ok := payload["groups"].(string); !ok || v != " a b" {
		t.Errorf("groups %#v, want the string, not listed", payload["groups"])
	}
}

// TestJWKSLeadingZeros: jwt_verify_lib reads e, x and y as big-endian numbers, so a field
// with leading zero bytes is the same key, not a malformed one.
func TestJWKSLeadingZeros(t *testing.T) {
	size := (testEC256.Curve.Params().BitSize + 7) / 8
	pad := func(b []byte) string { return b64(append([]byte{0, 0}, b...)) }
	doc, _ := json.Marshal(map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": "rsa", "n": b64(testRSA.N.Bytes()), "e": pad([]byte{1, 0, 1})},
		map[string]any{"kty": "EC", "kid": "ec", "crv": "P-256",
			"x": pad(testEC256.X.FillBytes(make([]byte, size))), "y": pad(testEC256.Y.FillBytes(make([]byte, size)))},
	}})
	keys := parseJWKS(doc)
	if len(keys) != 2 {
		t.Fatalf("%d keys, want 2", len(keys))
	}
	for _, tok := range []string{signJWT(t, "RS256", "rsa", testRSA, claims()), signJWT(t, "ES256", "ec", testEC256, claims())} {
		jt, st := parseJWT(tok)
		if st == jwtOK {
			st = verifyJWT(jt, keys)
		}
		if st != jwtOK {
			t.Errorf("%s: %v", jt.alg, st)
		}
	}
}
