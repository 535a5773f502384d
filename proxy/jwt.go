package proxy

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Envoy's JWT authentication HTTP filter (envoy.filters.http.jwt_authn) in the shape Istio
// emits for RequestAuthentication: inline JWKS, tokens from headers, query parameters or
// cookies, rules on path prefixes and the requirement trees Istio builds. Every field this
// file does not decode is a NACK naming it, as for RBAC: a listener whose authentication the
// proxy cannot honour is refused whole. Token and key parsing is in jwt_token.go, the
// per-request evaluation in jwt_eval.go.

const jwtFilterName = "envoy.filters.http.jwt_authn"

var jwtTypeURL = typeURLOf(&jwtv3.JwtAuthentication{})

// jwtFilter is one listener's jwt_authn filter.
type jwtFilter struct {
	providers []*jwtProvider // in the order of their names, the order issuer lookups try
	rules     []jwtRule
	// bypassCORS lets a CORS preflight through unverified: it carries no credentials.
	bypassCORS bool
	// strip answers a failure with no body and no www-authenticate header.
	strip bool
	// clearRouteCache says some provider asks for the route to be picked after the filter
	// changed the headers; otherwise the route is picked on the headers as received.
	clearRouteCache bool
	listenerCounters
}

// jwtProvider is a JwtProvider with its keys parsed.
type jwtProvider struct {
	name      string
	issuer    string
	audiences []string    // sanitized (sanitizeAudience); empty allows any
	keys      []jwk       // nil when the JWKS has no usable key: every token then fails
	remote    *remoteJWKS // remote_jwks: keys is unused, the fetched keys are cached here
	locs      []jwtLocationSpec
	forward   bool
	// payloadHeader, when set, carries the verified payload (base64url) upstream; the header
	// is removed from every request a requirement applies to first (as Envoy removes it), so
	// a client cannot forge it there.
	payloadHeader string
	padPayload    bool
	payloadKey    string        // payload_in_metadata
	spaceClaims   []string      // normalize_payload_in_metadata.space_delimited_claims
	skew          int64         // seconds
	ext           *jwtExtractor // where provider_name requirements look for its tokens
}

type jwtLocKind uint8

const (
	jlHeader jwtLocKind = iota
	jlParam
	jlCookie
)

// jwtLocationSpec is where a token may be: a header (with its value prefix), a query
// parameter or a cookie.
type jwtLocationSpec struct {
	kind   jwtLocKind
	name   string // canonical header name, parameter or cookie name
	prefix string // header value prefix, e.g. "Bearer "
}

// jwtRule is a RequirementRule: the first rule whose match selects the request applies;
// req nil verifies nothing.
type jwtRule struct {
	prefix string
	path   string
	exact  bool
	req    *jwtRequirement
}

type jwtReqKind uint8

const (
	jrProvider jwtReqKind = iota
	jrAny
	jrAll
	jrAllowMissing
	jrAllowFailed
)

// jwtRequirement is a JwtRequirement tree.
type jwtRequirement struct {
	kind     jwtReqKind
	provider *jwtProvider     // jrProvider
	aud      []string         // provider_and_audiences: replaces the provider's audiences
	children []jwtRequirement // jrAny, jrAll
	// allowMissing and allowFailed are requires_any's allow_missing and
	// allow_missing_or_failed: a request passes when every child failed for want of a
	// token, or whatever they failed for.
	allowMissing, allowFailed bool
	// ext is where a standalone allow_missing or allow_missing_or_failed looks for tokens:
	// the locations of every provider, as Envoy does.
	ext *jwtExtractor
}

// jwtExtractor is the token locations of a set of providers; a location several providers
// name is looked at once and accepts the issuers of all of them.
type jwtExtractor struct {
	locs []jwtLocation
	// sanitize is the forward_payload_header of those providers, removed before extracting.
	sanitize []string
}

type jwtLocation struct {
	jwtLocationSpec
	issuers   []string
	anyIssuer bool // a provider without an issuer named this location
}

func (l *jwtLocation) allows(iss string) bool {
	return l.anyIssuer || slices.Contains(l.issuers, iss)
}

// decodeJWTFilter decodes a jwt_authn filter's typed_config.
func decodeJWTFilter(p fieldPath, a *anypb.Any) (*jwtFilter, error) {
	if a == nil {
		return nil, p.errorf("required: the jwt_authn filter needs its configuration")
	}
	if a.GetTypeUrl() != jwtTypeURL {
		return nil, p.errorf("type %q, want %s", a.GetTypeUrl(), jwtTypeURL)
	}
	var m jwtv3.JwtAuthentication
	if err := a.UnmarshalTo(&m); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := validateAll(p, &m); err != nil {
		return nil, err
	}
	// requirement_map is only named by per-route configuration and filter_state_rules by
	// filter state, neither of which this proxy has; stat_prefix only names Envoy's stats.
	if err := onlyFields(p, &m, "providers", "rules", "bypass_cors_preflight", "strip_failure_response", "stat_prefix"); err != nil {
		return nil, err
	}
	f := &jwtFilter{bypassCORS: m.GetBypassCorsPreflight(), strip: m.GetStripFailureResponse()}
	byName := map[string]*jwtProvider{}
	for _, name := range sortedKeys(m.GetProviders()) {
		jp, err := decodeJWTProvider(p.field("providers["+strconv.Quote(name)+"]"), name, m.GetProviders()[name])
		if err != nil {
			return nil, err
		}
		f.clearRouteCache = f.clearRouteCache || m.GetProviders()[name].GetClearRouteCache()
		f.providers = append(f.providers, jp)
		byName[name] = jp
	}
	all := newJWTExtractor(f.providers)
	for i, r := range m.GetRules() {
		rp := p.field("rules").index(i)
		if err := onlyFields(rp, r, "match", "requires"); err != nil {
			return nil, err
		}
		rule, err := decodeJWTMatch(rp.field("match"), r.GetMatch())
		if err != nil {
			return nil, err
		}
		if req := r.GetRequires(); req != nil {
			jr, err := decodeJWTRequirement(rp.field("requires"), req, byName, all)
			if err != nil {
				return nil, err
			}
			rule.req = &jr
		}
		f.rules = append(f.rules, rule)
	}
	return f, nil
}

// decodeJWTMatch accepts the path matches Istio's rules use: a prefix ("/") or a path.
func decodeJWTMatch(p fieldPath, m *routev3.RouteMatch) (jwtRule, error) {
	if m == nil {
		return jwtRule{}, p.errorf("required")
	}
	if err := onlyFields(p, m, "prefix", "path"); err != nil {
		return jwtRule{}, err
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		return jwtRule{prefix: ps.Prefix}, nil
	case *routev3.RouteMatch_Path:
		return jwtRule{path: ps.Path, exact: true}, nil
	}
	return jwtRule{}, p.errorf("one of prefix, path is required")
}

func decodeJWTProvider(p fieldPath, name string, m *jwtv3.JwtProvider) (*jwtProvider, error) {
	// claim_to_headers, header_in_metadata, failed_status_in_metadata, subjects,
	// max_lifetime, require_expiration and jwt_cache_config are not implemented, so they NACK.
	if err := onlyFields(p, m, "issuer", "audiences", "local_jwks", "remote_jwks", "forward", "from_headers", "from_params",
		"from_cookies", "forward_payload_header", "pad_forward_payload_header", "payload_in_metadata",
		"normalize_payload_in_metadata", "clock_skew_seconds", "clear_route_cache"); err != nil {
		return nil, err
	}
	jp := &jwtProvider{name: name, issuer: m.GetIssuer(), forward: m.GetForward(),
		payloadHeader: http.CanonicalHeaderKey(m.GetForwardPayloadHeader()), padPayload: m.GetPadForwardPayloadHeader(),
		payloadKey: m.GetPayloadInMetadata(), skew: 60}
	if s := m.GetClockSkewSeconds(); s > 0 {
		jp.skew = int64(s)
	}
	for _, a := range m.GetAudiences() {
		jp.audiences = append(jp.audiences, sanitizeAudience(a))
	}
	if n := m.GetNormalizePayloadInMetadata(); n != nil {
		if err := onlyFields(p.field("normalize_payload_in_metadata"), n, "space_delimited_claims"); err != nil {
			return nil, err
		}
		jp.spaceClaims = n.GetSpaceDelimitedClaims()
	}
	if err := decodeJWKSSource(p, m, jp); err != nil {
		return nil, err
	}
	for i, h := range m.GetFromHeaders() {
		hp := p.field("from_headers").index(i)
		if err := onlyFields(hp, h, "name", "value_prefix"); err != nil {
			return nil, err
		}
		jp.locs = append(jp.locs, jwtLocationSpec{kind: jlHeader, name: http.CanonicalHeaderKey(h.GetName()), prefix: h.GetValuePrefix()})
	}
	for _, q := range m.GetFromParams() {
		jp.locs = append(jp.locs, jwtLocationSpec{kind: jlParam, name: q})
	}
	for _, c := range m.GetFromCookies() {
		jp.locs = append(jp.locs, jwtLocationSpec{kind: jlCookie, name: c})
	}
	if len(jp.locs) == 0 {
		// Envoy's defaults: "Authorization: Bearer <token>" and ?access_token=<token>.
		jp.locs = []jwtLocationSpec{{kind: jlHeader, name: "Authorization", prefix: "Bearer "}, {kind: jlParam, name: "access_token"}}
	}
	jp.ext = newJWTExtractor([]*jwtProvider{jp})
	return jp, nil
}

// decodeJWTRequirement builds the requirement tree; all is the locations of every
// provider, where a standalone allow_missing or allow_missing_or_failed looks for tokens.
func decodeJWTRequirement(p fieldPath, m *jwtv3.JwtRequirement, byName map[string]*jwtProvider, all *jwtExtractor) (jwtRequirement, error) {
	if err := onlyFields(p, m, "provider_name", "provider_and_audiences", "requires_any", "requires_all",
		"allow_missing", "allow_missing_or_failed"); err != nil {
		return jwtRequirement{}, err
	}
	provider := func(fp fieldPath, name string) (*jwtProvider, error) {
		if jp := byName[name]; jp != nil {
			return jp, nil
		}
		return nil, fp.errorf("provider %q is not configured", name)
	}
	switch t := m.GetRequiresType().(type) {
	case *jwtv3.JwtRequirement_ProviderName:
		jp, err := provider(p.field("provider_name"), t.ProviderName)
		return jwtRequirement{kind: jrProvider, provider: jp}, err
	case *jwtv3.JwtRequirement_ProviderAndAudiences:
		pp := p.field("provider_and_audiences")
		if err := onlyFields(pp, t.ProviderAndAudiences, "provider_name", "audiences"); err != nil {
			return jwtRequirement{}, err
		}
		jp, err := provider(pp.field("provider_name"), t.ProviderAndAudiences.GetProviderName())
		out := jwtRequirement{kind: jrProvider, provider: jp}
		for _, a := range t.ProviderAndAudiences.GetAudiences() {
			out.aud = append(out.aud, sanitizeAudience(a))
		}
		return out, err
	case *jwtv3.JwtRequirement_RequiresAll:
		ap := p.field("requires_all")
		if err := onlyFields(ap, t.RequiresAll, "requirements"); err != nil {
			return jwtRequirement{}, err
		}
		out := jwtRequirement{kind: jrAll}
		for i, c := range t.RequiresAll.GetRequirements() {
			cr, err := decodeJWTRequirement(ap.field("requirements").index(i), c, byName, all)
			if err != nil {
				return jwtRequirement{}, err
			}
			out.children = append(out.children, cr)
		}
		return out, nil
	case *jwtv3.JwtRequirement_RequiresAny:
		return decodeJWTAny(p.field("requires_any"), t.RequiresAny, byName, all)
	case *jwtv3.JwtRequirement_AllowMissing:
		return jwtRequirement{kind: jrAllowMissing, ext: all}, nil
	case *jwtv3.JwtRequirement_AllowMissingOrFailed:
		return jwtRequirement{kind: jrAllowFailed, ext: all}, nil
	}
	return jwtRequirement{}, p.errorf("one of provider_name, provider_and_audiences, requires_any, requires_all, allow_missing, allow_missing_or_failed is required")
}

// decodeJWTAny follows Envoy's AnyVerifier: allow_missing and allow_missing_or_failed in the
// list are flags on how the other requirements' failures are judged, not requirements of
// their own, unless nothing else is listed.
func decodeJWTAny(p fieldPath, m *jwtv3.JwtRequirementOrList, byName map[string]*jwtProvider, all *jwtExtractor) (jwtRequirement, error) {
	if err := onlyFields(p, m, "requirements"); err != nil {
		return jwtRequirement{}, err
	}
	out := jwtRequirement{kind: jrAny}
	for i, c := range m.GetRequirements() {
		cr, err := decodeJWTRequirement(p.field("requirements").index(i), c, byName, all)
		if err != nil {
			return jwtRequirement{}, err
		}
		switch cr.kind {
		case jrAllowMissing:
			out.allowMissing = true
		case jrAllowFailed:
			out.allowFailed = true
		default:
			out.children = append(out.children, cr)
		}
	}
	if len(out.children) == 0 {
		kind := jrAllowMissing
		if out.allowFailed {
			kind = jrAllowFailed
		}
		out.children = []jwtRequirement{{kind: kind, ext: all}}
	}
	return out, nil
}

// newJWTExtractor merges the providers' locations as Envoy's extractor does: headers first,
// ordered by name and prefix, then parameters and cookies by name.
func newJWTExtractor(providers []*jwtProvider) *jwtExtractor {
	e := &jwtExtractor{}
	for _, jp := range providers {
		if jp.payloadHeader != "" {
			e.sanitize = append(e.sanitize, jp.payloadHeader)
		}
		for _, spec := range jp.locs {
			i := slices.IndexFunc(e.locs, func(l jwtLocation) bool { return l.jwtLocationSpec == spec })
			if i < 0 {
				e.locs = append(e.locs, jwtLocation{jwtLocationSpec: spec})
				i = len(e.locs) - 1
			}
			if jp.issuer == "" {
				e.locs[i].anyIssuer = true
			} else {
				e.locs[i].issuers = append(e.locs[i].issuers, jp.issuer)
			}
		}
	}
	slices.SortStableFunc(e.locs, func(a, b jwtLocation) int {
		if a.kind != b.kind {
			return int(a.kind) - int(b.kind)
		}
		// Envoy keys header locations by the lower-cased name followed by the prefix.
		return strings.Compare(strings.ToLower(a.name)+a.prefix, strings.ToLower(b.name)+b.prefix)
	})
	return e
}

// sanitizeAudience is jwt_verify_lib's: an audience matches with or without its scheme and
// trailing slash. One scheme is stripped, "http://" or else "https://": stripping both would
// let "http://https://shop" pass for "shop", which Envoy refuses.
func sanitizeAudience(a string) string {
	if s, ok := strings.CutPrefix(a, "http://"); ok {
		a = s
	} else {
		a = strings.TrimPrefix(a, "https://")
	}
	return strings.TrimSuffix(a, "/")
}

// decodeJWKSSource sets the provider's keys from local_jwks, or its fetcher from remote_jwks.
func decodeJWKSSource(p fieldPath, m *jwtv3.JwtProvider, jp *jwtProvider) error {
	if rj := m.GetRemoteJwks(); rj != nil {
		r, err := decodeRemoteJWKS(p.field("remote_jwks"), rj)
		jp.remote = r
		return err
	}
	lj := m.GetLocalJwks()
	if lj == nil {
		return p.errorf("one of local_jwks, remote_jwks is required")
	}
	lp := p.field("local_jwks")
	if err := onlyFields(lp, lj, "inline_string", "inline_bytes", "filename"); err != nil {
		return err
	}
	var jwks []byte
	switch {
	case lj.GetFilename() != "":
		b, err := os.ReadFile(lj.GetFilename())
		if err != nil {
			return lp.field("filename").errorf("%v", err)
		}
		jwks = b
	case lj.GetInlineBytes() != nil:
		jwks = lj.GetInlineBytes()
	default:
		jwks = []byte(lj.GetInlineString())
	}
	// Envoy accepts a JWKS it cannot parse (with a warning) and fails every token of the
	// provider; so does this proxy: parseJWKS keeps the keys it can use.
	jp.keys = parseJWKS(jwks)
	return nil
}
