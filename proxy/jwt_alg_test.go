package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"testing"
)

// signRaw signs header and claims with a signer function of the signed bytes, for the
// algorithms signJWT does not cover (HS*, EdDSA).
func signRaw(hdr, claims map[string]any, sign func([]byte) []byte) string {
	hj, _ := json.Marshal(hdr)
	pj, _ := json.Marshal(claims)
	signed := b64(hj) + "." + b64(pj)
	return signed + "." + b64(sign([]byte(signed)))
}

func hmacSign(h crypto.Hash, secret []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		m := hmac.New(h.New, secret)
		m.Write(b)
		return m.Sum(nil)
	}
}

// TestJWTAlgorithms: every algorithm jwt_verify_lib implements, verified against a JWKS of
// every key type, and how kid and alg select keys.
func TestJWTAlgorithms(t *testing.T) {
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	secret := []byte("0123456789abcdef0123456789abcdef")
	keys := map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey, "p256": &testEC256.PublicKey,
		"p384": &testEC384.PublicKey, "p521": &ec521.PublicKey}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal([]byte(jwksOf(keys)), &doc)
	doc.Keys = append(doc.Keys, map[string]any{"kty": "oct", "kid": "hs", "k": b64(secret)},
		map[string]any{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(edPub)},
		map[string]any{"kty": "RSA", "kid": "rs-alg", "alg": "RS256", "n": b64(testRSA.N.Bytes()), "e": "AQAB"},
		map[string]any{"kty": "XYZ", "kid": "skipped"},
		map[string]any{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": "AQ", "y": "AQ"})
	jwksJSON, _ := json.Marshal(doc)
	jwkset := parseJWKS(jwksJSON)
	if len(jwkset) != 7 {
		t.Fatalf("%d usable keys, want 7 (the unknown kty and the point off the curve skipped)", len(jwkset))
	}
	hs := func(alg string, h crypto.Hash, kid string) string {
		return signRaw(map[string]any{"alg": alg, "kid": kid}, claims(), hmacSign(h, secret))
	}
	for _, c := range []struct {
		name, token string
		want        jwtStatus
	}{
		{"RS384", signJWT(t, "RS384", "rsa", testRSA, claims()), jwtOK},
		{"PS384", signJWT(t, "PS384", "rsa", testRSA, claims()), jwtOK},
		{"PS512", signJWT(t, "PS512", "rsa", testRSA, claims()), jwtOK},
		{"ES256", signJWT(t, "ES256", "p256", testEC256, claims()), jwtOK},
		{"ES384", signJWT(t, "ES384", "p384", testEC384, claims()), jwtOK},
		{"ES512", signJWT(t, "ES512", "p521", ec521, claims()), jwtOK},
		{"HS256", hs("HS256", crypto.SHA256, "hs"), jwtOK},
		{"HS512", hs("HS512", crypto.SHA512, "hs"), jwtOK},
		{"HS256 wrong secret", signRaw(map[string]any{"alg": "HS256"}, claims(), hmacSign(crypto.SHA256, []byte("x"))), jwtVerificationFails},
		{"EdDSA", signRaw(map[string]any{"alg": "EdDSA", "kid": "ed"}, claims(), func(b []byte) []byte { return ed25519.Sign(edPriv, b) }), jwtOK},
		{"EdDSA short signature", signRaw(map[string]any{"alg": "EdDSA", "kid": "ed"}, claims(), func([]byte) []byte { return []byte{1} }), jwtEd25519SigLength},
		{"RS256 on the key whose alg says so", signJWT(t, "RS256", "rs-alg", testRSA, claims()), jwtOK},
		{"PS256 on a key whose alg is RS256", signJWT(t, "PS256", "rs-alg", testRSA, claims()), jwksKidAlgMismatch},
		{"ES256 signed by P-384 under its kid", signJWT(t, "ES256", "p256", testEC384, claims()), jwtVerificationFails},
		{"no kid: every key is tried", signJWT(t, "ES384", "", testEC384, claims()), jwtOK},
	} {
		tok, st := parseJWT(c.token)
		if st == jwtOK {
			st = verifyJWT(tok, jwkset)
		}
		if st != c.want {
			t.Errorf("%s: %q, want %q", c.name, st, c.want)
		}
	}
	// A signature of one byte: an empty one is a bad form, which jwt_verify_lib reports first.
	noSig := func([]byte) []byte { return []byte{0} }
	for name, c := range map[string]struct {
		token string
		want  jwtStatus
	}{
		"alg none":        {signRaw(map[string]any{"alg": "none"}, claims(), noSig), jwtHeaderAlgNotImplemented},
		"alg number":      {signRaw(map[string]any{"alg": 1}, claims(), noSig), jwtHeaderBadAlg},
		"kid number":      {signRaw(map[string]any{"alg": "RS256", "kid": 1}, claims(), noSig), jwtHeaderBadKid},
		"iss number":      {signRaw(map[string]any{"alg": "RS256"}, claims("iss", 1), noSig), jwtIssNotString},
		"exp string":      {signRaw(map[string]any{"alg": "RS256"}, claims("exp", "soon"), noSig), jwtExpNotInteger},
		"nbf negative":    {signRaw(map[string]any{"alg": "RS256"}, claims("nbf", -1), noSig), jwtNbfNotPositive},
		"aud list of int": {signRaw(map[string]any{"alg": "RS256"}, claims("aud", []int{1}), noSig), jwtAudNotString},
		"two dots only":   {"a.b", jwtBadFormat},
		"four parts":      {"a.b.c.d", jwtBadFormat},
		"payload base64":  {"eyJhbGciOiJSUzI1NiJ9.!!.AA", jwtPayloadBadBase64},
		"signature":       {"eyJhbGciOiJSUzI1NiJ9.e30.!!", jwtSigBadBase64},
	} {
		if _, st := parseJWT(c.token); st != c.want {
			t.Errorf("%s: %q, want %q", name, st, c.want)
		}
	}
	if st := verifyJWT(&jwtToken{alg: "RS256"}, nil); st != jwksNoValidKeys || st.String() != "Jwks doesn't have any valid public key" {
		t.Errorf("no keys: %q", st)
	}
}

// FuzzJWTParse: the token and JWKS parsers read attacker input (and an operator's JWKS) and
// must never panic; fuzzed keys also verify real tokens of every algorithm family. The
// seeds run in every go test.
func FuzzJWTParse(f *testing.F) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	real := []string{
		signJWT(f, "RS256", "rsa", testRSA, claims()),
		signJWT(f, "PS256", "", testRSA, claims()),
		signJWT(f, "ES256", "ec", testEC256, claims()),
		signJWT(f, "ES384", "", testEC384, claims()),
		signRaw(map[string]any{"alg": "HS256"}, claims(), hmacSign(crypto.SHA256, []byte("k"))),
		signRaw(map[string]any{"alg": "EdDSA"}, claims(), func(b []byte) []byte { return ed25519.Sign(edPriv, b) }),
	}
	f.Add(real[0], jwksOf(map[string]crypto.PublicKey{"rsa": &testRSA.PublicKey, "ec": &testEC256.PublicKey}))
	f.Add("a.b.c", `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`)
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.AA", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"aw"},{"kty":"OKP","crv":"Ed25519","x":"`+b64(edPub)+`"}]}`)
	f.Add("....", "null")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjFlNDAwfQ.AA", `{"keys":[{"kty":"RSA","n":"AQ","e":"Aw"},{"kty":"EC","crv":"P-521","x":"","y":"AA"}]}`)
	f.Fuzz(func(t *testing.T, token, jwks string) {
		keys := parseJWKS([]byte(jwks))
		if tk, st := parseJWT(token); st == jwtOK {
			verifyJWT(tk, keys)
		}
		for _, r := range real {
			tk, st := parseJWT(r)
			if st != jwtOK {
				t.Fatalf("seed token refused: %v", st)
			}
			verifyJWT(tk, keys)
		}
		tokenAfter(token, len(token)/2)
	})
}
