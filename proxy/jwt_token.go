package proxy

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strings"
)

// JWS compact serialization and JWKS parsing with the standard library only, following
// jwt_verify_lib (the library Envoy's filter uses) for what is checked, in which order, and
// the status each failure answers with. All of it parses attacker input: nothing here may
// panic on any byte string (FuzzJWTParse).

// jwtStatus is jwt_verify_lib's Status, for the failures this proxy can meet.
type jwtStatus uint8

const (
	jwtOK jwtStatus = iota
	jwtMissing
	jwtNotYetValid
	jwtExpired
	jwtBadFormat
	jwtHeaderBadBase64
	jwtHeaderBadJSON
	jwtHeaderBadAlg
	jwtHeaderAlgNotImplemented
	jwtHeaderBadKid
	jwtPayloadBadBase64
	jwtPayloadBadJSON
	jwtIssNotString
	jwtSubNotString
	jwtIatNotInteger
	jwtIatNotPositive
	jwtNbfNotInteger
	jwtNbfNotPositive
	jwtExpNotInteger
	jwtExpNotPositive
	jwtJtiNotString
	jwtAudNotString
	jwtSigBadBase64
	jwtEd25519SigLength
	jwtUnknownIssuer
	jwtAudienceNotAllowed
	jwtVerificationFails
	jwksNoValidKeys
	jwksKidAlgMismatch
	jwksFetchFail
)

// jwtStatusText is getStatusString's text for each status: the body of Envoy's 401.
var jwtStatusText = [...]string{
	jwtOK:                      "OK",
	jwtMissing:                 "Jwt is missing",
	jwtNotYetValid:             "Jwt not yet valid",
	jwtExpired:                 "Jwt is expired",
	jwtBadFormat:               "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
	jwtHeaderBadBase64:         "Jwt header is an invalid Base64url encoded",
	jwtHeaderBadJSON:           "Jwt header is an invalid JSON",
	jwtHeaderBadAlg:            "Jwt header [alg] field is required and must be a string",
	jwtHeaderAlgNotImplemented: "Jwt header [alg] is not supported",
	jwtHeaderBadKid:            "Jwt header [kid] field is not a string",
	jwtPayloadBadBase64:        "Jwt payload is an invalid Base64url encoded",
	jwtPayloadBadJSON:          "Jwt payload is an invalid JSON",
	jwtIssNotString:            "Jwt payload [iss] field is not a string",
	jwtSubNotString:            "Jwt payload [sub] field is not a string",
	jwtIatNotInteger:           "Jwt payload [iat] field is not an integer",
	jwtIatNotPositive:          "Jwt payload [iat] field is not a positive integer",
	jwtNbfNotInteger:           "Jwt payload [nbf] field is not an integer",
	jwtNbfNotPositive:          "Jwt payload [nbf] field is not a positive integer",
	jwtExpNotInteger:           "Jwt payload [exp] field is not an integer",
	jwtExpNotPositive:          "Jwt payload [exp] field is not a positive integer",
	jwtJtiNotString:            "Jwt payload [jti] field is not a string",
	jwtAudNotString:            "Jwt payload [aud] field is not a string or string list",
	jwtSigBadBase64:            "Jwt signature is an invalid Base64url encoded",
	jwtEd25519SigLength:        "Jwt ED25519 signature is wrong length",
	jwtUnknownIssuer:           "Jwt issuer is not configured",
	jwtAudienceNotAllowed:      "Audiences in Jwt are not allowed",
	jwtVerificationFails:       "Jwt verification fails",
	jwksNoValidKeys:            "Jwks doesn't have any valid public key",
	jwksKidAlgMismatch:         "Jwks doesn't have key to match kid or alg from Jwt",
	jwksFetchFail:              "Jwks remote fetch is failed",
}

func (s jwtStatus) String() string { return jwtStatusText[s] }

// jwtToken is a parsed, not yet verified, token.
type jwtToken struct {
	alg, kid   string
	iss        string
	aud        []string
	nbf, exp   uint64 // 0: absent
	payload    map[string]any
	payloadB64 string // as sent, for forward_payload_header
	signed     string // header.payload, what the signature covers
	sig        []byte
}

// jwtAlgs are the algorithms jwt_verify_lib implements.
var jwtAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
	"HS256", "HS384", "HS512", "EdDSA"}

func b64url(s string) ([]byte, bool) {
	// jwt_verify_lib accepts the unpadded alphabet and tolerates trailing padding.
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// parseJWT checks the token's form and claims' types, in jwt_verify_lib's order.
func parseJWT(s string) (*jwtToken, jwtStatus) {
	h, rest, ok1 := strings.Cut(s, ".")
	pl, sg, ok2 := strings.Cut(rest, ".")
	// jwt_verify_lib splits on the dots skipping empty parts and wants three: an empty
	// section is a bad form, not an empty header, payload or signature.
	if !ok1 || !ok2 || strings.Contains(sg, ".") || h == "" || pl == "" || sg == "" {
		return nil, jwtBadFormat
	}
	t := &jwtToken{payloadB64: pl, signed: s[:len(h)+1+len(pl)]}
	hb, ok := b64url(h)
	if !ok {
		return nil, jwtHeaderBadBase64
	}
	var hdr map[string]any
	if json.Unmarshal(hb, &hdr) != nil || hdr == nil {
		return nil, jwtHeaderBadJSON
	}
	alg, ok := hdr["alg"].(string)
	if !ok {
		return nil, jwtHeaderBadAlg
	}
	if !slices.Contains(jwtAlgs, alg) {
		return nil, jwtHeaderAlgNotImplemented
	}
	t.alg = alg
	if k, present := hdr["kid"]; present {
		if t.kid, ok = k.(string); !ok {
			return nil, jwtHeaderBadKid
		}
	}
	pb, ok := b64url(pl)
	if !ok {
		return nil, jwtPayloadBadBase64
	}
	d := json.NewDecoder(bytes.NewReader(pb))
	d.UseNumber() // integers stay exact; a claim's number is compared as written
	if d.Decode(&t.payload) != nil || t.payload == nil || d.More() {
		return nil, jwtPayloadBadJSON
	}
	str := func(name string, bad jwtStatus) (string, jwtStatus) {
		v, present := t.payload[name]
		if !present {
			return "", jwtOK
		}
		s, ok := v.(string)
		if !ok {
			return "", bad
		}
		return s, jwtOK
	}
	var st jwtStatus
	if t.iss, st = str("iss", jwtIssNotString); st != jwtOK {
		return nil, st
	}
	if _, st = str("sub", jwtSubNotString); st != jwtOK {
		return nil, st
	}
	if _, st = jwtUint(t.payload, "iat", jwtIatNotInteger); st != jwtOK {
		return nil, st
	}
	if t.nbf, st = jwtUint(t.payload, "nbf", jwtNbfNotInteger); st != jwtOK {
		return nil, st
	}
	if t.exp, st = jwtUint(t.payload, "exp", jwtExpNotInteger); st != jwtOK {
		return nil, st
	}
	if _, st = str("jti", jwtJtiNotString); st != jwtOK {
		return nil, st
	}
	switch a := t.payload["aud"].(type) {
	case nil:
		if _, present := t.payload["aud"]; present {
			return nil, jwtAudNotString
		}
	case string:
		t.aud = []string{a}
	case []any:
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, jwtAudNotString
			}
			t.aud = append(t.aud, s)
		}
	default:
		return nil, jwtAudNotString
	}
	if t.sig, ok = b64url(sg); !ok {
		return nil, jwtSigBadBase64
	}
	return t, jwtOK
}

// jwtUint reads a time claim as jwt_verify_lib's GetUInt64: a number, not negative (the
// status after notInteger says so); a fraction is truncated.
func jwtUint(m map[string]any, name string, notInteger jwtStatus) (uint64, jwtStatus) {
	v, present := m[name]
	if !present {
		return 0, jwtOK
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, notInteger
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) {
		return 0, notInteger
	}
	if f < 0 || f >= math.MaxUint64 {
		return 0, notInteger + 1 // the matching NotPositive
	}
	return uint64(f), jwtOK
}

// jwk is one usable key of a JWKS.
type jwk struct {
	kid, alg string // "" when the key does not say
	rsa      *rsa.PublicKey
	ec       *ecdsa.PublicKey
	ed       ed25519.PublicKey
	secret   []byte // kty oct
}

// parseJWKS keeps the keys it can use: RSA (n, e), EC (crv P-256, P-384, P-521; x, y), oct
// (k) and OKP (Ed25519, x). A key of another type or with a bad field is skipped, and a
// document that is not a JWKS has no keys.
func parseJWKS(b []byte) []jwk {
	// A map, not a struct: encoding/json matches struct fields ignoring case, and
	// jwt_verify_lib reads "keys" only, not "Keys" or "KEYS".
	var doc map[string]json.RawMessage
	var keys []json.RawMessage
	if json.Unmarshal(b, &doc) != nil || json.Unmarshal(doc["keys"], &keys) != nil {
		return nil
	}
	var out []jwk
	for _, raw := range keys {
		// jwt_verify_lib skips an entry that is not an object and keeps the others.
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if k, ok := parseJWK(m); ok {
			out = append(out, k)
		}
	}
	return out
}

func parseJWK(m map[string]any) (jwk, bool) {
	field := func(name string) (string, bool) {
		v, present := m[name]
		if !present {
			return "", true
		}
		s, ok := v.(string)
		return s, ok
	}
	kty, ok := field("kty")
	if !ok {
		return jwk{}, false
	}
	// jwt_verify_lib reads kid and alg ignoring a value that is not a string: the key is
	// then one without a kid or alg, not an unusable one.
	kid, _ := field("kid")
	alg, _ := field("alg")
	k := jwk{kid: kid, alg: alg}
	// b64 is a key field's bytes; one that decodes to nothing is refused, as an empty
	// secret or modulus is no key (an empty HMAC secret would let anyone sign).
	b64 := func(name string) ([]byte, bool) {
		s, ok := field(name)
		if !ok || s == "" {
			return nil, false
		}
		b, ok := b64url(s)
		return b, ok && len(b) > 0
	}
	switch kty {
	case "RSA":
		if alg != "" && !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return jwk{}, false
		}
		n, ok1 := b64(("n"))
		e, ok2 := b64("e")
		// BoringSSL reads the fields as big-endian numbers: leading zero bytes are allowed.
		e = bytes.TrimLeft(e, "\x00")
		if !ok1 || !ok2 || len(e) > 4 {
			return jwk{}, false
		}
		// jwt_verify_lib accepts only the standard exponents, 3 and 65537.
		ei := new(big.Int).SetBytes(e).Int64()
		if ei != 3 && ei != 65537 {
			return jwk{}, false
		}
		k.rsa = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei)}
	case "EC":
		if alg != "" && !strings.HasPrefix(alg, "ES") {
			return jwk{}, false
		}
		crv, ok := field("crv")
		if !ok {
			return jwk{}, false
		}
		if crv == "" {
			// jwt_verify_lib derives the curve from alg, P-256 when neither says.
			crv = map[string]string{"ES384": "P-384", "ES512": "P-521"}[alg]
			if crv == "" {
				crv = "P-256"
			}
		}
		curve, want := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[crv],
			map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[crv]
		if curve == nil || (alg != "" && alg != want) {
			return jwk{}, false
		}
		x, ok1 := b64("x")
		y, ok2 := b64("y")
		x, y = bytes.TrimLeft(x, "\x00"), bytes.TrimLeft(y, "\x00") // numbers, as for RSA
		size := (curve.Params().BitSize + 7) / 8
		if !ok1 || !ok2 || len(x) > size || len(y) > size {
			return jwk{}, false
		}
		pt := make([]byte, 1+2*size)
		pt[0] = 4
		copy(pt[1+size-len(x):], x)
		copy(pt[1+2*size-len(y):], y)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, pt) // rejects points off the curve
		if err != nil {
			return jwk{}, false
		}
		k.ec = pub
	case "oct":
		if alg != "" && !strings.HasPrefix(alg, "HS") {
			return jwk{}, false
		}
		s, ok := b64("k")
		if !ok {
			return jwk{}, false
		}
		k.secret = s
	case "OKP":
		if alg != "" && alg != "EdDSA" {
			return jwk{}, false
		}
		crv, _ := field("crv")
		x, ok := b64("x")
		if crv != "Ed25519" || !ok || len(x) != ed25519.PublicKeySize {
			return jwk{}, false
		}
		k.ed = ed25519.PublicKey(x)
	default:
		return jwk{}, false
	}
	return k, true
}

// verifyJWT is verifyJwtWithoutTimeChecking: keys whose kid or alg differ from the token's
// (when both say) are skipped; a token no remaining key verifies fails, and one no key was
// even tried on says so.
func verifyJWT(t *jwtToken, keys []jwk) jwtStatus {
	if len(keys) == 0 {
		return jwksNoValidKeys
	}
	matched := false
	for i := range keys {
		k := &keys[i]
		if t.kid != "" && k.kid != "" && k.kid != t.kid {
			continue
		}
		if k.alg != "" && k.alg != t.alg {
			continue
		}
		matched = true
		if t.alg == "EdDSA" && k.ed != nil && len(t.sig) != ed25519.SignatureSize {
			return jwtEd25519SigLength
		}
		if k.verify(t.alg, t.signed, t.sig) {
			return jwtOK
		}
	}
	if matched {
		return jwtVerificationFails
	}
	return jwksKidAlgMismatch
}

func (k *jwk) verify(alg, signed string, sig []byte) bool {
	if alg == "EdDSA" {
		return k.ed != nil && ed25519.Verify(k.ed, []byte(signed), sig)
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return false
	}
	if alg[:2] == "HS" {
		if k.secret == nil {
			return false
		}
		mac := hmac.New(h.New, k.secret)
		mac.Write([]byte(signed))
		return hmac.Equal(mac.Sum(nil), sig)
	}
	d := h.New()
	d.Write([]byte(signed))
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS":
		return k.rsa != nil && rsa.VerifyPKCS1v15(k.rsa, h, digest, sig) == nil
	case "PS":
		// BoringSSL verifies PSS with the salt length recovered from the signature (its
		// default, -2), so Envoy accepts any salt length, not only the hash's.
		return k.rsa != nil && rsa.VerifyPSS(k.rsa, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case "ES":
		if k.ec == nil {
			return false
		}
		size := (k.ec.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k.ec, digest, r, s)
	}
	return false
}
