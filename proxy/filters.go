package proxy

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The HTTP filters this proxy runs besides the router, by their Envoy names.
const (
	corsFilterName  = "envoy.filters.http.cors"
	faultFilterName = "envoy.filters.http.fault"
)

var (
	corsTypeURL       = typeURLOf(&corsv3.Cors{})
	corsPolicyTypeURL = typeURLOf(&corsv3.CorsPolicy{})
	routeCorsTypeURL  = typeURLOf(&routev3.CorsPolicy{})
	faultTypeURL      = typeURLOf(&faultv3.HTTPFault{})
)

// fraction is a FractionalPercent: num out of den.
type fraction struct{ num, den uint32 }

var always = fraction{1, 1}

func decodeFraction(p fieldPath, f *typev3.FractionalPercent) (fraction, error) {
	if f == nil {
		return fraction{0, 100}, nil // an unset FractionalPercent is 0%, as in Envoy
	}
	if err := onlyFields(p, f, "numerator", "denominator"); err != nil {
		return fraction{}, err
	}
	var den uint32
	switch f.GetDenominator() {
	case typev3.FractionalPercent_HUNDRED:
		den = 100
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10_000
	case typev3.FractionalPercent_MILLION:
		den = 1_000_000
	default:
		return fraction{}, p.field("denominator").errorf("%s is not supported", f.GetDenominator())
	}
	return fraction{min(f.GetNumerator(), den), den}, nil
}

// decodeRuntimeFraction takes the default value: this proxy has no runtime layer, so a
// runtime key always falls back to it, as in an Envoy whose runtime does not set the key.
func decodeRuntimeFraction(p fieldPath, f *core.RuntimeFractionalPercent) (fraction, error) {
	if err := onlyFields(p, f, "default_value", "runtime_key"); err != nil {
		return fraction{}, err
	}
	return decodeFraction(p.field("default_value"), f.GetDefaultValue())
}

func (f fraction) hit() bool {
	switch {
	case f.num == 0:
		return false
	case f.num >= f.den:
		return true
	}
	return rand.Uint32N(f.den) < f.num
}

// httpFilters are the filters a listener's connection manager runs before the router.
type httpFilters struct {
	cors  bool
	fault *faultPolicy // the filter's own configuration; nil when the filter is absent
	// rbac is the listener's RBAC filters (rbac.go); nil when it has none, so a listener
	// without them pays one nil check.
	rbac *rbacChain
	// jwt is the listener's jwt_authn filter (jwt.go), run before RBAC; nil when it has none.
	jwt *jwtFilter
	// websocket is set when the HTTP connection manager's upgrade_configs enable "websocket":
	// WebSocket upgrade requests are then tunnelled (upgrade.go), else refused as Envoy does.
	websocket bool
	// useRemoteAddress: the connection manager's use_remote_address. The client is then the
	// connection's peer: its address is appended to X-Forwarded-For and X-Forwarded-Proto is
	// set from the connection, as Envoy does with no trusted hops. Without it X-Forwarded-For
	// passes unchanged and X-Forwarded-Proto is set only when missing.
	useRemoteAddress bool
	// noRequestID: the connection manager sets generate_request_id false, so a request
	// without x-request-id is forwarded without one. By default (Envoy's) one is generated.
	noRequestID bool
	// hdr: the connection manager's and router's other header settings (hcm_headers.go).
	hdr connManagerHeaders
	// paths: normalize_path and merge_slashes (path_normalize.go).
	paths pathNormalization
	// http10: http_protocol_options' HTTP/1.0 settings (hcm_codec.go).
	http10 http10
	// stripAnyHostPort: the connection manager's strip_any_host_port. The port comes off the
	// Host before anything else sees the request (the upstream too), so routes match the bare
	// host; without it the Host is matched as sent, port and all (domains.go).
	stripAnyHostPort bool
}

// noFilters stands for a listener without a connection manager configuration: Envoy's
// defaults, no filters.
var noFilters = httpFilters{hdr: connManagerHeaders{server: envoyServer}}

// corsPolicy is a CorsPolicy from typed_per_filter_config, Envoy's cors filter semantics.
type corsPolicy struct {
	origins             []stringMatcher
	allowMethods        []string
	allowHeaders        []string
	exposeHeaders       []string
	maxAge              []string
	credentials         bool
	privateNetwork      bool
	enabled             fraction
	forwardNotMatchings bool
}

// corsConfig is what the route-level CorsPolicy and the CORS filter's per-route CorsPolicy
// (two proto types with the same fields) have in common.
type corsConfig interface {
	proto.Message
	ValidateAll() error
	GetAllowOriginStringMatch() []*matcherv3.StringMatcher
	GetAllowMethods() string
	GetAllowHeaders() string
	GetExposeHeaders() string
	GetMaxAge() string
	GetAllowCredentials() *wrapperspb.BoolValue
	GetAllowPrivateNetworkAccess() *wrapperspb.BoolValue
	GetForwardNotMatchingPreflights() *wrapperspb.BoolValue
	GetFilterEnabled() *core.RuntimeFractionalPercent
}

func decodeCorsAny(p fieldPath, a *anypb.Any) (*corsPolicy, error) {
	var cp corsPolicy
	cp.enabled = always
	cp.forwardNotMatchings = true
	var m corsConfig
	switch a.GetTypeUrl() {
	case routeCorsTypeURL:
		m = &routev3.CorsPolicy{}
	case corsPolicyTypeURL:
		m = &corsv3.CorsPolicy{}
	default:
		return nil, p.errorf("type %q, want %s or %s", a.GetTypeUrl(), routeCorsTypeURL, corsPolicyTypeURL)
	}
	if err := a.UnmarshalTo(m); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := validateAll(p, m); err != nil {
		return nil, err
	}
	if err := onlyFields(p, m, "allow_origin_string_match", "allow_methods", "allow_headers", "expose_headers",
		"max_age", "allow_credentials", "filter_enabled", "allow_private_network_access", "forward_not_matching_preflights"); err != nil {
		return nil, err
	}
	origins, methods, headers, expose, maxAge := m.GetAllowOriginStringMatch(), m.GetAllowMethods(), m.GetAllowHeaders(), m.GetExposeHeaders(), m.GetMaxAge()
	creds, pna, forward, enabled := m.GetAllowCredentials(), m.GetAllowPrivateNetworkAccess(), m.GetForwardNotMatchingPreflights(), m.GetFilterEnabled()
	for i, o := range origins {
		sm, err := decodeStringMatcher(p.field("allow_origin_string_match").index(i), o)
		if err != nil {
			return nil, err
		}
		cp.origins = append(cp.origins, sm)
	}
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	cp.allowMethods, cp.allowHeaders, cp.exposeHeaders = one(methods), one(headers), one(expose)
	if maxAge != "" {
		if _, err := strconv.ParseUint(maxAge, 10, 64); err != nil {
			return nil, p.field("max_age").errorf("%q is not a number of seconds", maxAge)
		}
		cp.maxAge = one(maxAge)
	}
	cp.credentials = creds.GetValue()
	cp.privateNetwork = pna.GetValue()
	if forward != nil {
		cp.forwardNotMatchings = forward.GetValue()
	}
	if enabled != nil {
		f, err := decodeRuntimeFraction(p.field("filter_enabled"), enabled)
		if err != nil {
			return nil, err
		}
		cp.enabled = f
	}
	return &cp, nil
}

// allowed reports whether origin may use the resource: a matcher that matches "*" (Istio's
// allowOrigins exact "*") allows every origin, as in Envoy's cors filter.
func (c *corsPolicy) allowed(origin string) bool {
	for i := range c.origins {
		if c.origins[i].match(origin) || c.origins[i].match("*") {
			return true
		}
	}
	return false
}

var (
	corsTrue = []string{"true"}
)

// preflight answers an allowed CORS preflight itself, as Envoy's cors filter does, and
// reports whether it did. A preflight from an origin not allowed goes upstream unless the
// policy says not to forward those (then it gets a 200 without CORS headers).
func (c *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, origin string) bool {
	if !c.allowed(origin) {
		if c.forwardNotMatchings {
			return false
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
	h := w.Header()
	h["Access-Control-Allow-Origin"] = r.Header["Origin"]
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = corsTrue
	}
	if c.allowMethods != nil {
		h["Access-Control-Allow-Methods"] = c.allowMethods
	}
	if c.allowHeaders != nil {
		h["Access-Control-Allow-Headers"] = c.allowHeaders
	}
	if c.maxAge != nil {
		h["Access-Control-Max-Age"] = c.maxAge
	}
	if c.privateNetwork && r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		h["Access-Control-Allow-Private-Network"] = corsTrue
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// decorate adds the CORS response headers to a response for an allowed origin.
func (c *corsPolicy) decorate(h http.Header, r *http.Request) {
	h["Access-Control-Allow-Origin"] = r.Header["Origin"]
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = corsTrue
	}
	if c.exposeHeaders != nil {
		h["Access-Control-Expose-Headers"] = c.exposeHeaders
	}
}

// faultPolicy is an HTTPFault: a fixed delay and an abort, each on a share of requests.
type faultPolicy struct {
	delay       time.Duration
	delayShare  fraction
	abortStatus int    // HTTP status; 0 when the abort is a gRPC status
	grpcStatus  string // gRPC status code, decimal
	abortShare  fraction
	hasDelay    bool
	hasAbort    bool
}

func decodeFaultAny(p fieldPath, a *anypb.Any) (*faultPolicy, error) {
	var m faultv3.HTTPFault
	if a.GetTypeUrl() != faultTypeURL {
		return nil, p.errorf("type %q, want %s", a.GetTypeUrl(), faultTypeURL)
	}
	if err := a.UnmarshalTo(&m); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := validateAll(p, &m); err != nil {
		return nil, err
	}
	if err := onlyFields(p, &m, "delay", "abort"); err != nil {
		return nil, err
	}
	fp := &faultPolicy{}
	if d := m.GetDelay(); d != nil {
		dp := p.field("delay")
		if err := onlyFields(dp, d, "fixed_delay", "percentage"); err != nil {
			return nil, err
		}
		if d.GetFixedDelay() == nil {
			return nil, dp.field("fixed_delay").errorf("required")
		}
		fp.hasDelay, fp.delay = true, d.GetFixedDelay().AsDuration()
		f, err := decodeFraction(dp.field("percentage"), d.GetPercentage())
		if err != nil {
			return nil, err
		}
		fp.delayShare = f
	}
	if ab := m.GetAbort(); ab != nil {
		ap := p.field("abort")
		if err := onlyFields(ap, ab, "http_status", "grpc_status", "percentage"); err != nil {
			return nil, err
		}
		switch e := ab.GetErrorType().(type) {
		case *faultv3.FaultAbort_HttpStatus:
			if e.HttpStatus < 200 || e.HttpStatus > 599 { // Envoy's own bounds
				return nil, ap.field("http_status").errorf("%d is not in [200, 600)", e.HttpStatus)
			}
			fp.abortStatus = int(e.HttpStatus)
		case *faultv3.FaultAbort_GrpcStatus:
			fp.grpcStatus = strconv.FormatUint(uint64(e.GrpcStatus), 10)
		default:
			return nil, ap.errorf("one of http_status, grpc_status is required")
		}
		fp.hasAbort = true
		f, err := decodeFraction(ap.field("percentage"), ab.GetPercentage())
		if err != nil {
			return nil, err
		}
		fp.abortShare = f
	}
	return fp, nil
}

// inject applies the fault to one request: it may sleep, and reports whether it answered the
// request with an abort. A client that goes away during the delay ends it.
func (f *faultPolicy) inject(w http.ResponseWriter, r *http.Request) bool {
	if f.hasDelay && f.delay > 0 && f.delayShare.hit() {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.hasAbort && f.abortShare.hit() {
		if f.grpcStatus != "" {
			h := w.Header()
			h["Content-Type"] = grpcContentType
			h["Grpc-Status"] = []string{f.grpcStatus}
			h["Grpc-Message"] = []string{"fault filter abort"}
			w.WriteHeader(http.StatusOK)
			return true
		}
		sendLocalReply(w, r, f.abortStatus, "fault filter abort")
		return true
	}
	return false
}

var grpcContentType = []string{"application/grpc"}

// perFilterConfig is the typed_per_filter_config of a route, virtual host or route
// configuration, for the filters this proxy runs.
type perFilterConfig struct {
	cors  *corsPolicy
	fault *faultPolicy
}

func decodePerFilterConfig(p fieldPath, m map[string]*anypb.Any) (perFilterConfig, error) {
	var out perFilterConfig
	for _, name := range sortedKeys(m) {
		kp := p.field("typed_per_filter_config[" + strconv.Quote(name) + "]")
		a := m[name]
		switch {
		case name == corsFilterName || strings.HasSuffix(a.GetTypeUrl(), "CorsPolicy"):
			c, err := decodeCorsAny(kp, a)
			if err != nil {
				return out, err
			}
			out.cors = c
		case name == faultFilterName || a.GetTypeUrl() == faultTypeURL:
			f, err := decodeFaultAny(kp, a)
			if err != nil {
				return out, err
			}
			out.fault = f
		default:
			return out, kp.errorf("not supported: only %s and %s are", corsFilterName, faultFilterName)
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
