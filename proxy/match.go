package proxy

import (
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Matchers are plain structs switched on a kind rather than closures: they are built once per
// configuration and read by every request, so they must cost no allocation to evaluate.

type stringKind uint8

const (
	strExact stringKind = iota
	strPrefix
	strSuffix
	strContains
	strRegex
)

type stringMatcher struct {
	kind       stringKind
	s          string // lower-cased when ignoreCase
	ignoreCase bool
	re         *regexp.Regexp
}

func decodeStringMatcher(p fieldPath, m *matcherv3.StringMatcher) (stringMatcher, error) {
	if m == nil {
		return stringMatcher{}, p.errorf("required")
	}
	if err := onlyFields(p, m, "exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"); err != nil {
		return stringMatcher{}, err
	}
	sm := stringMatcher{ignoreCase: m.GetIgnoreCase()}
	switch pat := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.kind, sm.s = strExact, pat.Exact
	case *matcherv3.StringMatcher_Prefix:
		sm.kind, sm.s = strPrefix, pat.Prefix
	case *matcherv3.StringMatcher_Suffix:
		sm.kind, sm.s = strSuffix, pat.Suffix
	case *matcherv3.StringMatcher_Contains:
		sm.kind, sm.s = strContains, pat.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := decodeRegex(p.field("safe_regex"), pat.SafeRegex)
		if err != nil {
			return stringMatcher{}, err
		}
		// Envoy ignores ignore_case for regexes; so do we.
		sm.kind, sm.re, sm.ignoreCase = strRegex, re, false
	default:
		return stringMatcher{}, p.errorf("one of exact, prefix, suffix, contains, safe_regex is required")
	}
	if sm.ignoreCase {
		sm.s = lowerASCII(sm.s)
	}
	return sm, nil
}

// decodeRegex compiles an RE2 pattern for a full match, as Envoy's safe_regex matches.
func decodeRegex(p fieldPath, m *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	if m == nil {
		return nil, p.errorf("required")
	}
	if err := onlyFields(p, m, "regex", "google_re2"); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + m.GetRegex() + `)$`)
	if err != nil {
		return nil, p.field("regex").errorf("invalid RE2 regex %q: %v", m.GetRegex(), err)
	}
	return re, nil
}

func (m *stringMatcher) match(v string) bool {
	switch m.kind {
	case strExact:
		if m.ignoreCase {
			return equalFoldASCII(v, m.s)
		}
		return v == m.s
	case strPrefix:
		if m.ignoreCase {
			return len(v) >= len(m.s) && equalFoldASCII(v[:len(m.s)], m.s)
		}
		return strings.HasPrefix(v, m.s)
	case strSuffix:
		if m.ignoreCase {
			return len(v) >= len(m.s) && equalFoldASCII(v[len(v)-len(m.s):], m.s)
		}
		return strings.HasSuffix(v, m.s)
	case strContains:
		if m.ignoreCase {
			return strings.Contains(lowerASCII(v), m.s)
		}
		return strings.Contains(v, m.s)
	case strRegex:
		return m.re.MatchString(v)
	}
	return false
}

// pseudo names the HTTP/2 pseudo-headers a header matcher may test, as Envoy allows; Go keeps
// them outside Request.Header.
type pseudo uint8

const (
	pseudoNone pseudo = iota
	pseudoAuthority
	pseudoMethod
	pseudoPath
	pseudoScheme
)

type headerMatcher struct {
	key            string // canonical MIME key when pseudo is pseudoNone
	pseudo         pseudo
	present        bool // a presence test; want is the wanted presence
	want           bool
	str            stringMatcher
	invert         bool
	missingAsEmpty bool
}

func decodeHeaderMatcher(p fieldPath, h *routev3.HeaderMatcher) (headerMatcher, error) {
	if err := onlyFields(p, h, "name", "string_match", "present_match", "invert_match", "treat_missing_header_as_empty",
		"exact_match", "safe_regex_match", "prefix_match", "suffix_match", "contains_match"); err != nil {
		return headerMatcher{}, err
	}
	hm := headerMatcher{invert: h.GetInvertMatch(), missingAsEmpty: h.GetTreatMissingHeaderAsEmpty()}
	switch name := strings.ToLower(h.GetName()); name {
	case ":authority", "host":
		hm.pseudo = pseudoAuthority
	case ":method":
		hm.pseudo = pseudoMethod
	case ":path":
		hm.pseudo = pseudoPath
	case ":scheme":
		hm.pseudo = pseudoScheme
	case "":
		return headerMatcher{}, p.field("name").errorf("required")
	default:
		if strings.HasPrefix(name, ":") {
			return headerMatcher{}, p.field("name").errorf("pseudo-header %q is not supported", name)
		}
		hm.key = textproto.CanonicalMIMEHeaderKey(name)
	}
	switch spec := h.GetHeaderMatchSpecifier().(type) {
	case *routev3.HeaderMatcher_StringMatch:
		sm, err := decodeStringMatcher(p.field("string_match"), spec.StringMatch)
		if err != nil {
			return headerMatcher{}, err
		}
		hm.str = sm
	case *routev3.HeaderMatcher_PresentMatch:
		hm.present, hm.want = true, spec.PresentMatch
	// The deprecated forms proxyless gRPC clients read; Envoy still honours them.
	case *routev3.HeaderMatcher_ExactMatch:
		hm.str = stringMatcher{kind: strExact, s: spec.ExactMatch}
	case *routev3.HeaderMatcher_PrefixMatch:
		hm.str = stringMatcher{kind: strPrefix, s: spec.PrefixMatch}
	case *routev3.HeaderMatcher_SuffixMatch:
		hm.str = stringMatcher{kind: strSuffix, s: spec.SuffixMatch}
	case *routev3.HeaderMatcher_ContainsMatch:
		hm.str = stringMatcher{kind: strContains, s: spec.ContainsMatch}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		re, err := decodeRegex(p.field("safe_regex_match"), spec.SafeRegexMatch)
		if err != nil {
			return headerMatcher{}, err
		}
		hm.str = stringMatcher{kind: strRegex, re: re}
	case nil:
		// No specifier: Envoy matches on presence.
		hm.present, hm.want = true, true
	}
	return hm, nil
}

func (h *headerMatcher) value(r *http.Request) (string, bool) {
	switch h.pseudo {
	case pseudoAuthority:
		return r.Host, true
	case pseudoMethod:
		return r.Method, true
	case pseudoPath:
		// Envoy's :path is the origin-form target: for an absolute-form request line
		// ("GET http://host/admin") that is the URL's path and query, not the whole URL,
		// or a DENY on a path prefix could be stepped around.
		if u := r.RequestURI; u != "" && u[0] != '/' && u != "*" && r.URL != nil {
			return r.URL.RequestURI(), true
		}
		return r.RequestURI, true
	case pseudoScheme:
		if r.TLS != nil {
			return "https", true
		}
		return "http", true
	}
	vv := r.Header[h.key]
	switch len(vv) {
	case 0:
		return "", false
	case 1:
		return vv[0], true
	}
	// Envoy matches a repeated header against its values joined by commas.
	return strings.Join(vv, ","), true
}

// match follows Envoy's HeaderUtility::matchHeaders, including its treatment of a missing
// header: it fails every matcher, inverted or not, except a presence test.
func (h *headerMatcher) match(r *http.Request) bool {
	v, ok := h.value(r)
	if !ok && !h.missingAsEmpty {
		if h.invert {
			return h.present && h.want
		}
		return h.present && !h.want
	}
	var m bool
	if h.present {
		m = h.want
	} else {
		m = h.str.match(v)
	}
	return m != h.invert
}

type queryMatcher struct {
	name    string
	present bool
	str     stringMatcher
}

func decodeQueryMatcher(p fieldPath, q *routev3.QueryParameterMatcher) (queryMatcher, error) {
	if err := onlyFields(p, q, "name", "string_match", "present_match"); err != nil {
		return queryMatcher{}, err
	}
	if q.GetName() == "" {
		return queryMatcher{}, p.field("name").errorf("required")
	}
	qm := queryMatcher{name: q.GetName()}
	switch spec := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_StringMatch:
		sm, err := decodeStringMatcher(p.field("string_match"), spec.StringMatch)
		if err != nil {
			return queryMatcher{}, err
		}
		qm.str = sm
	case *routev3.QueryParameterMatcher_PresentMatch:
		if !spec.PresentMatch {
			return queryMatcher{}, p.field("present_match").errorf("false is not supported")
		}
		qm.present = true
	default:
		return queryMatcher{}, p.errorf("one of string_match, present_match is required")
	}
	return qm, nil
}

// match tests the first value of the parameter, as Envoy does.
func (q *queryMatcher) match(rawQuery string) bool {
	v, ok := queryValue(rawQuery, q.name)
	if !ok {
		return false
	}
	return q.present || q.str.match(v)
}

// queryValue scans a raw query for the first value of name without building url.Values.
func queryValue(raw, name string) (string, bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if strings.ContainsAny(k, "%+") {
			if u, err := url.QueryUnescape(k); err == nil {
				k = u
			}
		}
		if k != name {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if u, err := url.QueryUnescape(v); err == nil {
				v = u
			}
		}
		return v, true
	}
	return "", false
}

// lowerASCII lower-cases the ASCII letters of s, allocating only when it has an upper-case
// one. Envoy's ignore_case folds ASCII only: Unicode folding would make "adminſ" (long s)
// or a Kelvin sign equal to "admins" or "k", which Envoy does not.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// equalFoldASCII is strings.EqualFold for ASCII letters only, as Envoy compares ignoring case.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
