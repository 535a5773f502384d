package proxy

import (
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// jwtMetadata is the request's dynamic metadata of filter envoy.filters.http.jwt_authn: each
// verified payload (a JSON object) under its provider's payload_in_metadata key. It lives
// only on the stack of the listener handler, which hands it to RBAC: the one later filter
// that reads it. A listener without the filter never makes one.
type jwtMetadata map[string]any

// authenticate runs the filter over a request; false when it answered it (401, or 403 when
// the audiences are not allowed, as Envoy answers), and then nothing after it runs.
func (f *jwtFilter) authenticate(w http.ResponseWriter, r *http.Request, reg *statsRegistry) (jwtMetadata, bool) {
	if f.bypassCORS && r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != "" {
		return nil, true // a preflight carries no credentials
	}
	req := f.requirementFor(r)
	if req == nil {
		return nil, true
	}
	c := jwtContext{r: r, providers: f.providers, now: time.Now().Unix(), reg: reg}
	st := c.verify(req)
	if st == jwtOK {
		return c.md, true
	}
	f.counters(reg).jwtDenied.Add(1)
	f.deny(w, r, st)
	return nil, false
}

// requirementFor is the requirement of the first rule that matches the path; nil verifies
// nothing.
func (f *jwtFilter) requirementFor(r *http.Request) *jwtRequirement {
	path := requestPath(r)
	for i := range f.rules {
		rl := &f.rules[i]
		if (rl.exact && path == rl.path) || (!rl.exact && strings.HasPrefix(path, rl.prefix)) {
			return rl.req
		}
	}
	return nil
}

// deny writes Envoy's local reply: the status text as the body and a www-authenticate
// challenge naming the request's URI (scheme, host, path and query, the path cut at 256
// bytes), with error="invalid_token" unless the token was missing.
func (f *jwtFilter) deny(w http.ResponseWriter, r *http.Request, st jwtStatus) {
	code := http.StatusUnauthorized
	if st == jwtAudienceNotAllowed {
		code = http.StatusForbidden
	}
	h := w.Header()
	if f.strip {
		h["Content-Length"] = zeroLength
		w.WriteHeader(code)
		return
	}
	path := r.RequestURI
	if path == "" || path[0] != '/' {
		path = r.URL.RequestURI()
	}
	if len(path) > 256 {
		path = path[:256]
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	v := `Bearer realm="` + scheme + "://" + r.Host + path + `"`
	if st != jwtMissing {
		v += `, error="invalid_token"`
	}
	body := st.String()
	h["Www-Authenticate"] = []string{v}
	if grpcLocalReply(w, r, code, body) {
		return
	}
	h["Content-Type"] = textPlainDR
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	io.WriteString(w, body)
}

var zeroLength = []string{"0"}

// jwtContext is one request's verification: Envoy's verifier tree run synchronously; a
// provider with remote_jwks may block it on a fetch (jwks_remote.go).
type jwtContext struct {
	r         *http.Request
	providers []*jwtProvider
	now       int64
	md        jwtMetadata
	reg       *statsRegistry // the clusters remote_jwks fetches go through, and its counters
}

// verify follows Envoy's verifiers: requires_all answers with its first failure;
// requires_any with its first success, else with the failures aggregated as Envoy does: the
// last that is neither "missing" nor "issuer not configured", else "issuer not configured"
// if a child said so, else "missing"; then its allow_missing(_or_failed) flags apply.
func (c *jwtContext) verify(q *jwtRequirement) jwtStatus {
	switch q.kind {
	case jrProvider:
		return c.authenticate(q.provider.ext, q.provider, q.aud, false, false)
	case jrAllowMissing:
		return c.authenticate(q.ext, nil, nil, false, true)
	case jrAllowFailed:
		return c.authenticate(q.ext, nil, nil, true, true)
	case jrAny:
		final := jwtMissing
		for i := range q.children {
			st := c.verify(&q.children[i])
			if st == jwtOK {
				return jwtOK
			}
			if (st != jwtMissing && st != jwtUnknownIssuer) || final == jwtMissing {
				final = st
			}
		}
		if q.allowFailed || (q.allowMissing && final == jwtMissing) {
			return jwtOK
		}
		return final
	case jrAll:
		for i := range q.children {
			if st := c.verify(&q.children[i]); st != jwtOK {
				return st
			}
		}
	}
	return jwtOK
}

// extracted is a token and where it was found.
type extracted struct {
	loc   *jwtLocation
	token string
}

// authenticate is Envoy's Authenticator: every token found must verify (the last found is
// tried first) unless failures are allowed; no token is "Jwt is missing" unless that is
// allowed. jp is nil for allow_missing and allow_missing_or_failed, which pick the provider
// by the token's issuer.
func (c *jwtContext) authenticate(e *jwtExtractor, jp *jwtProvider, aud []string, allowFailed, allowMissing bool) jwtStatus {
	for _, name := range e.sanitize {
		delete(c.r.Header, name)
	}
	toks := e.extract(c.r)
	st := jwtMissing
	for i := len(toks) - 1; i >= 0; i-- {
		st = c.verifyToken(&toks[i], jp, aud)
		if st != jwtOK && !allowFailed && !allowMissing {
			return st
		}
	}
	switch {
	case allowFailed, allowMissing && st == jwtMissing:
		return jwtOK
	}
	return st
}

func (e *jwtExtractor) extract(r *http.Request) []extracted {
	var out []extracted
	for i := range e.locs {
		l := &e.locs[i]
		switch l.kind {
		case jlHeader:
			for _, v := range r.Header[l.name] {
				if l.prefix != "" {
					at := strings.Index(v, l.prefix)
					if at < 0 {
						continue
					}
					v = tokenAfter(v, at+len(l.prefix))
				}
				out = append(out, extracted{loc: l, token: v})
			}
		case jlParam:
			if v, ok := jwtQueryParam(r.URL.RawQuery, l.name); ok {
				out = append(out, extracted{loc: l, token: v})
			}
		case jlCookie:
			if v, ok := jwtCookie(r.Header["Cookie"], l.name); ok {
				out = append(out, extracted{loc: l, token: v})
			}
		}
	}
	return out
}

// The query and cookies are read as Envoy reads them, not as net/http does: a parameter or
// cookie net/http would skip as malformed (a ";" in the query, a bad escape, a cookie value
// with a byte RFC 6265 forbids) is still a token Envoy finds and fails. Were it skipped, the
// request would pass allow_missing with a token the backend may read and trust unverified.

// jwtQueryParam is the first value of name in a raw query, as Envoy's
// parseAndDecodeQueryString splits it: on "&" only, at the first "=", each side
// percent-decoded where the escape is valid and kept as sent where it is not.
func jwtQueryParam(raw, name string) (string, bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if percentDecode(k) == name {
			return percentDecode(v), true
		}
	}
	return "", false
}

// percentDecode is Envoy's PercentEncoding::decode: "%" and two hex digits is the byte;
// anything else, "+" included, is itself.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// jwtCookie is the first cookie named name in the Cookie headers, as Envoy's parseCookies
// reads them: split on ";", the name from its first non-space byte to the "=", the value the
// rest, unvalidated, without its surrounding double quotes.
func jwtCookie(headers []string, name string) (string, bool) {
	for _, h := range headers {
		for c := range strings.SplitSeq(h, ";") {
			k, v, ok := strings.Cut(strings.TrimLeft(c, " "), "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// tokenAfter is Envoy's extractJWT: the value from the first base64url character or dot at or
// after the prefix; the whole value when there is none.
func tokenAfter(v string, after int) string {
	for i := after; i < len(v); i++ {
		b := v[i]
		if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.' {
			return v[i:]
		}
	}
	return v
}

// verifyToken checks one token in Envoy's order: form, issuer (of the location, then of
// the provider), time, audiences, signature; then acts on a good one.
func (c *jwtContext) verifyToken(x *extracted, jp *jwtProvider, aud []string) jwtStatus {
	t, st := parseJWT(x.token)
	if st != jwtOK {
		return st
	}
	if !x.loc.allows(t.iss) {
		return jwtUnknownIssuer
	}
	if jp == nil {
		if jp = c.byIssuer(t.iss); jp == nil {
			return jwtUnknownIssuer
		}
	}
	now := uint64(max(c.now, 0))
	skew := uint64(jp.skew)
	if t.nbf != 0 && now+skew < t.nbf {
		return jwtNotYetValid
	}
	if t.exp != 0 && now > t.exp+skew {
		return jwtExpired
	}
	if aud == nil {
		aud = jp.audiences
	}
	if len(aud) > 0 && !slices.ContainsFunc(t.aud, func(a string) bool { return slices.Contains(aud, sanitizeAudience(a)) }) {
		return jwtAudienceNotAllowed
	}
	keys := jp.keys
	if jp.remote != nil {
		// As in Envoy, the keys are wanted only once everything else about the token passed.
		var ok bool
		if keys, ok = jp.remote.keysFor(c.r.Context(), c.reg, jp.name); !ok {
			return jwksFetchFail
		}
	}
	if st := verifyJWT(t, keys); st != jwtOK {
		return st
	}
	h := c.r.Header
	if jp.payloadHeader != "" {
		p := t.payloadB64
		if jp.padPayload {
			p = base64.URLEncoding.EncodeToString(mustB64(p))
		}
		h[jp.payloadHeader] = append(h[jp.payloadHeader], p)
	}
	if !jp.forward {
		removeToken(c.r, x.loc)
	}
	if jp.payloadKey != "" {
		if c.md == nil {
			c.md = jwtMetadata{}
		}
		c.md[jp.payloadKey] = normalizePayload(t.payload, jp.spaceClaims)
	}
	return jwtOK
}

func mustB64(s string) []byte {
	b, _ := b64url(s)
	return b
}

// byIssuer is Envoy's findByIssuer: the first provider with the token's issuer, else the
// first without an issuer.
func (c *jwtContext) byIssuer(iss string) *jwtProvider {
	var anyIss *jwtProvider
	for _, jp := range c.providers {
		if jp.issuer == iss {
			return jp
		}
		if jp.issuer == "" && anyIss == nil {
			anyIss = jp
		}
	}
	return anyIss
}

// removeToken takes the token out of what is forwarded: the whole header, or the parameter
// from the query (also from RequestURI, which :path matchers of later filters read). A
// cookie stays, as in Envoy. Every pair jwtQueryParam would name the parameter goes; the
// others are kept as sent, where Envoy rewrites them decoded, which could change what they
// say (a "%26" becoming a separator).
func removeToken(r *http.Request, l *jwtLocation) {
	switch l.kind {
	case jlHeader:
		delete(r.Header, l.name)
	case jlParam:
		var kept []string
		for kv := range strings.SplitSeq(r.URL.RawQuery, "&") {
			if k, _, _ := strings.Cut(kv, "="); percentDecode(k) != l.name {
				kept = append(kept, kv)
			}
		}
		r.URL.RawQuery = strings.Join(kept, "&")
		if r.RequestURI != "" && r.RequestURI[0] == '/' {
			path, _, _ := strings.Cut(r.RequestURI, "?")
			if r.URL.RawQuery != "" {
				path += "?" + r.URL.RawQuery
			}
			r.RequestURI = path
		}
	}
}

// normalizePayload is normalize_payload_in_metadata: the listed claims, when strings, become
// the list of their space-separated parts (OAuth's "scope": "read write"). A string with no
// part ("" or spaces) stays a string: Envoy turns the value into a list as it adds the
// first part, so without one it is left as it was.
func normalizePayload(p map[string]any, claims []string) map[string]any {
	for _, name := range claims {
		s, ok := p[name].(string)
		if !ok {
			continue
		}
		var parts []any
		for f := range strings.SplitSeq(s, " ") {
			if f != "" {
				parts = append(parts, f)
			}
		}
		if parts != nil {
			p[name] = parts
		}
	}
	return p
}
