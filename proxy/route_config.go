package proxy

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// routeConfig is a validated RouteConfiguration. It names clusters but does not point at
// them: a routeTable links it to the clusters of the moment.
type routeConfig struct {
	name    string
	domains domainIndex
	vhosts  []virtualHost
	reqHdr  headerOps
	respHdr headerOps
	filters perFilterConfig
	// clusters are the names the routes send to, sorted, for warming.
	clusters []string
	raw      []byte
}

type virtualHost struct {
	name            string
	routes          []route
	reqHdr, respHdr headerOps
	filters         perFilterConfig
	attemptCount    bool // include_request_attempt_count
}

type pathKind uint8

const (
	pathPrefix pathKind = iota
	pathExact
	pathRegex
)

type actionKind uint8

const (
	actionRoute actionKind = iota
	actionRedirect
	actionDirect
)

type route struct {
	name string
	// plainTextOnly: the route takes only requests that did not come over TLS (require_tls).
	plainTextOnly bool
	kind          pathKind
	path          string // lower-cased when !caseSensitive
	re            *regexp.Regexp
	foldCase      bool
	headers       []headerMatcher
	query         []queryMatcher

	action    actionKind
	redirect  *redirectAction
	direct    *directResponse
	targets   []target
	weightSum uint64
	timeout   time.Duration // 0: none
	// grpcTimeout is set by max_grpc_timeout: a gRPC request's timeout is then its
	// grpc-timeout header (none when absent), capped at maxGRPC when that is not 0.
	grpcTimeout bool
	maxGRPC     time.Duration

	reqHdr, respHdr headerOps
	filters         perFilterConfig

	retry *retryPolicy
	// expectedTimeout is the x-envoy-expected-rq-timeout-ms of a first attempt (nil: none),
	// made once rather than per request.
	expectedTimeout []string
	hash            []hashPolicy
	mirrors         []mirrorPolicy
	prefixRewrite   string
	hasPrefixRw     bool
	regexRewrite    *regexRewrite
	hostRewrite     string
}

// target is one cluster a route sends to; weight is 1 for a plain cluster action.
type target struct {
	cluster         string
	weight          uint64
	reqHdr, respHdr headerOps
}

// defaultRouteTimeout is Envoy's RouteAction.timeout when unset.
const defaultRouteTimeout = 15 * time.Second

func decodeRouteConfiguration(rc *routev3.RouteConfiguration) (*routeConfig, error) {
	if err := validateAll("", rc); err != nil {
		return nil, err
	}
	if err := onlyFields("", rc, "name", "virtual_hosts", "validate_clusters", "request_headers_to_add", "request_headers_to_remove",
		"response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config", "max_direct_response_body_size_bytes"); err != nil {
		return nil, err
	}
	cfg := &routeConfig{name: rc.GetName()}
	var err error
	if cfg.reqHdr, err = decodeHeaderOps("", "request_headers_to_add", rc.GetRequestHeadersToAdd(), "request_headers_to_remove", rc.GetRequestHeadersToRemove()); err != nil {
		return nil, err
	}
	if cfg.respHdr, err = decodeHeaderOps("", "response_headers_to_add", rc.GetResponseHeadersToAdd(), "response_headers_to_remove", rc.GetResponseHeadersToRemove()); err != nil {
		return nil, err
	}
	if cfg.filters, err = decodePerFilterConfig("", rc.GetTypedPerFilterConfig()); err != nil {
		return nil, err
	}
	var b domainIndexBuilder
	for i, vh := range rc.GetVirtualHosts() {
		p := fieldPath("virtual_hosts").index(i)
		if err := onlyFields(p, vh, "name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
			"response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config", "include_request_attempt_count", "require_tls"); err != nil {
			return nil, err
		}
		for j, d := range vh.GetDomains() {
			if err := b.add(d, i, vh.GetName()); err != nil {
				return nil, p.field("domains").index(j).errorf("%v", err)
			}
		}
		v := virtualHost{name: vh.GetName(), routes: make([]route, 0, len(vh.GetRoutes())), attemptCount: vh.GetIncludeRequestAttemptCount()}
		if v.reqHdr, err = decodeHeaderOps(p, "request_headers_to_add", vh.GetRequestHeadersToAdd(), "request_headers_to_remove", vh.GetRequestHeadersToRemove()); err != nil {
			return nil, err
		}
		if v.respHdr, err = decodeHeaderOps(p, "response_headers_to_add", vh.GetResponseHeadersToAdd(), "response_headers_to_remove", vh.GetResponseHeadersToRemove()); err != nil {
			return nil, err
		}
		if v.filters, err = decodePerFilterConfig(p, vh.GetTypedPerFilterConfig()); err != nil {
			return nil, err
		}
		switch vh.GetRequireTls() {
		case routev3.VirtualHost_NONE:
		case routev3.VirtualHost_ALL:
			v.routes = append(v.routes, requireTLSRoute)
		default:
			return nil, p.field("require_tls").errorf("%s is not supported: NONE and ALL are", vh.GetRequireTls())
		}
		for j, r := range vh.GetRoutes() {
			rt, err := decodeRoute(p.field("routes").index(j), r)
			if err != nil {
				return nil, err
			}
			v.routes = append(v.routes, rt)
		}
		cfg.vhosts = append(cfg.vhosts, v)
	}
	cfg.domains = b.build()
	for _, v := range cfg.vhosts {
		for _, r := range v.routes {
			for _, t := range r.targets {
				cfg.clusters = append(cfg.clusters, t.cluster)
			}
			for _, m := range r.mirrors {
				cfg.clusters = append(cfg.clusters, m.cluster)
			}
		}
	}
	slices.Sort(cfg.clusters)
	cfg.clusters = slices.Compact(cfg.clusters)
	raw, err := deterministic.Marshal(rc)
	if err != nil {
		return nil, err
	}
	cfg.raw = raw
	return cfg, nil
}

func decodeRoute(p fieldPath, r *routev3.Route) (route, error) {
	if err := onlyFields(p, r, "name", "match", "route", "redirect", "direct_response", "request_headers_to_add", "request_headers_to_remove",
		"response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config", "decorator", "metadata"); err != nil {
		return route{}, err
	}
	rt := route{name: r.GetName()}
	m := r.GetMatch()
	mp := p.field("match")
	if m == nil {
		return route{}, mp.errorf("required")
	}
	if err := onlyFields(mp, m, "prefix", "path", "safe_regex", "headers", "query_parameters", "case_sensitive"); err != nil {
		return route{}, err
	}
	rt.foldCase = m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		rt.kind, rt.path = pathPrefix, ps.Prefix
	case *routev3.RouteMatch_Path:
		rt.kind, rt.path = pathExact, ps.Path
	case *routev3.RouteMatch_SafeRegex:
		re, err := decodeRegex(mp.field("safe_regex"), ps.SafeRegex)
		if err != nil {
			return route{}, err
		}
		if rt.foldCase {
			re, err = regexp.Compile("(?i)" + re.String())
			if err != nil {
				return route{}, mp.field("safe_regex").errorf("%v", err)
			}
		}
		rt.kind, rt.re = pathRegex, re
	default:
		return route{}, mp.errorf("one of prefix, path, safe_regex is required")
	}
	for i, h := range m.GetHeaders() {
		hm, err := decodeHeaderMatcher(mp.field("headers").index(i), h)
		if err != nil {
			return route{}, err
		}
		rt.headers = append(rt.headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qm, err := decodeQueryMatcher(mp.field("query_parameters").index(i), q)
		if err != nil {
			return route{}, err
		}
		rt.query = append(rt.query, qm)
	}
	var err error
	if rt.reqHdr, err = decodeHeaderOps(p, "request_headers_to_add", r.GetRequestHeadersToAdd(), "request_headers_to_remove", r.GetRequestHeadersToRemove()); err != nil {
		return route{}, err
	}
	if rt.respHdr, err = decodeHeaderOps(p, "response_headers_to_add", r.GetResponseHeadersToAdd(), "response_headers_to_remove", r.GetResponseHeadersToRemove()); err != nil {
		return route{}, err
	}
	if rt.filters, err = decodePerFilterConfig(p, r.GetTypedPerFilterConfig()); err != nil {
		return route{}, err
	}
	if r.GetMetadata().GetFilterMetadata()["signalbox"].GetFields()["source"] != nil {
		// A condition on which proxies the route is for (sourceLabels, sourceNamespace): the
		// publisher serves each proxy its routes with it resolved. Applying the route to every
		// proxy would route some of them as the policy says they must not be.
		return route{}, p.field("metadata").field("filter_metadata").field("signalbox").field("source").errorf(
			"a condition on the proxy's labels or namespace that the xDS server should have resolved for this proxy")
	}
	if d := r.GetDecorator(); d != nil {
		// The decorator names the operation in traces; this proxy does not trace.
		if err := onlyFields(p.field("decorator"), d, "operation", "propagate"); err != nil {
			return route{}, err
		}
	}
	if rt.foldCase && rt.kind != pathRegex {
		rt.path = lowerASCII(rt.path)
	}
	switch act := r.GetAction().(type) {
	case *routev3.Route_Redirect:
		ra, err := decodeRedirect(p.field("redirect"), act.Redirect)
		if err != nil {
			return route{}, err
		}
		if rt.kind == pathPrefix {
			ra.routePrefix = rt.path
		}
		rt.action, rt.redirect = actionRedirect, ra
		return rt, nil
	case *routev3.Route_DirectResponse:
		dr, err := decodeDirectResponse(p.field("direct_response"), act.DirectResponse)
		if err != nil {
			return route{}, err
		}
		rt.action, rt.direct = actionDirect, dr
		return rt, nil
	case *routev3.Route_Route:
	default:
		return route{}, p.errorf("one of route, redirect, direct_response is required")
	}
	ap := p.field("route")
	a := r.GetRoute()
	if err := onlyFields(ap, a, "cluster", "weighted_clusters", "timeout", "retry_policy", "request_mirror_policies", "hash_policy",
		"prefix_rewrite", "regex_rewrite", "host_rewrite_literal", "max_stream_duration", "max_grpc_timeout", "cluster_not_found_response_code"); err != nil {
		return route{}, err
	}
	rt.timeout = defaultRouteTimeout
	if to := a.GetTimeout(); to != nil {
		rt.timeout = to.AsDuration()
		if rt.timeout < 0 {
			return route{}, ap.field("timeout").errorf("must not be negative")
		}
	}
	if mg := a.GetMaxGrpcTimeout(); mg != nil {
		rt.grpcTimeout, rt.maxGRPC = true, mg.AsDuration()
	}
	if msd := a.GetMaxStreamDuration(); msd != nil {
		// Istio repeats the route timeout here for gRPC; the route timeout already bounds
		// the whole stream in this proxy, so only a shorter bound would change anything.
		mp := ap.field("max_stream_duration")
		if err := onlyFields(mp, msd, "max_stream_duration", "grpc_timeout_header_max"); err != nil {
			return route{}, err
		}
		if d := msd.GetMaxStreamDuration(); d != nil && d.AsDuration() > 0 && (rt.timeout == 0 || d.AsDuration() < rt.timeout) {
			rt.timeout = d.AsDuration()
		}
	}
	if c := a.GetClusterNotFoundResponseCode(); c != routev3.RouteAction_SERVICE_UNAVAILABLE {
		return route{}, ap.field("cluster_not_found_response_code").errorf("%s is not supported", c)
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		if rt.retry, err = decodeRetryPolicy(ap.field("retry_policy"), rp); err != nil {
			return route{}, err
		}
	}
	for i, h := range a.GetHashPolicy() {
		hp, err := decodeHashPolicy(ap.field("hash_policy").index(i), h)
		if err != nil {
			return route{}, err
		}
		rt.hash = append(rt.hash, hp)
	}
	for i, mp := range a.GetRequestMirrorPolicies() {
		m, err := decodeMirrorPolicy(ap.field("request_mirror_policies").index(i), mp)
		if err != nil {
			return route{}, err
		}
		rt.mirrors = append(rt.mirrors, m)
	}
	if a.GetPrefixRewrite() != "" {
		if a.GetRegexRewrite() != nil {
			return route{}, ap.errorf("prefix_rewrite and regex_rewrite are mutually exclusive")
		}
		rt.prefixRewrite, rt.hasPrefixRw = a.GetPrefixRewrite(), true
	}
	if rr := a.GetRegexRewrite(); rr != nil {
		if rt.regexRewrite, err = decodeRegexRewrite(ap.field("regex_rewrite"), rr); err != nil {
			return route{}, err
		}
	}
	rt.hostRewrite = a.GetHostRewriteLiteral()
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		rt.targets = []target{{cluster: cs.Cluster, weight: 1}}
	case *routev3.RouteAction_WeightedClusters:
		wp := ap.field("weighted_clusters")
		wc := cs.WeightedClusters
		if err := onlyFields(wp, wc, "clusters", "total_weight"); err != nil {
			return route{}, err
		}
		var sum uint64
		for i, c := range wc.GetClusters() {
			cp := wp.field("clusters").index(i)
			if err := onlyFields(cp, c, "name", "weight", "request_headers_to_add", "request_headers_to_remove",
				"response_headers_to_add", "response_headers_to_remove"); err != nil {
				return route{}, err
			}
			if c.GetName() == "" {
				return route{}, cp.field("name").errorf("required")
			}
			w := uint64(c.GetWeight().GetValue())
			sum += w
			if w == 0 {
				continue // a zero weight is never picked
			}
			tg := target{cluster: c.GetName(), weight: w}
			if tg.reqHdr, err = decodeHeaderOps(cp, "request_headers_to_add", c.GetRequestHeadersToAdd(), "request_headers_to_remove", c.GetRequestHeadersToRemove()); err != nil {
				return route{}, err
			}
			if tg.respHdr, err = decodeHeaderOps(cp, "response_headers_to_add", c.GetResponseHeadersToAdd(), "response_headers_to_remove", c.GetResponseHeadersToRemove()); err != nil {
				return route{}, err
			}
			rt.targets = append(rt.targets, tg)
		}
		if sum == 0 {
			return route{}, wp.field("clusters").errorf("the sum of weights must be greater than zero")
		}
		if tw := wc.GetTotalWeight(); tw != nil && uint64(tw.GetValue()) != sum {
			return route{}, wp.field("total_weight").errorf("%d is not the sum of the weights (%d)", tw.GetValue(), sum)
		}
	default:
		return route{}, ap.errorf("one of cluster, weighted_clusters is required")
	}
	for _, t := range rt.targets {
		rt.weightSum += t.weight
	}
	rt.expectedTimeout = expectedTimeoutValue(rt.timeout, rt.retry)
	return rt, nil
}

// matches tests a request whose path (query and fragment removed) is path.
// requireTLSRoute comes first in a virtual host with require_tls ALL: a request that did not
// come over TLS is redirected to https, 301, as Envoy answers it.
var requireTLSRoute = route{name: "require_tls", kind: pathPrefix, plainTextOnly: true, action: actionRedirect,
	redirect: &redirectAction{scheme: "https", code: http.StatusMovedPermanently}}

func (rt *route) matches(r *http.Request, path string) bool {
	if rt.plainTextOnly && r.TLS != nil {
		return false
	}
	switch rt.kind {
	case pathPrefix:
		if rt.foldCase {
			if len(path) < len(rt.path) || !equalFoldASCII(path[:len(rt.path)], rt.path) {
				return false
			}
		} else if !strings.HasPrefix(path, rt.path) {
			return false
		}
	case pathExact:
		if rt.foldCase {
			if !equalFoldASCII(path, rt.path) {
				return false
			}
		} else if path != rt.path {
			return false
		}
	case pathRegex:
		if !rt.re.MatchString(path) {
			return false
		}
	}
	for i := range rt.headers {
		if !rt.headers[i].match(r) {
			return false
		}
	}
	for i := range rt.query {
		if !rt.query[i].match(r.URL.RawQuery) {
			return false
		}
	}
	return true
}

// requestPath is the path Envoy matches routes against: the raw :path without query or
// fragment, so "%2F" stays as sent.
func requestPath(r *http.Request) string {
	u := r.RequestURI
	if len(u) > 0 && u[0] == '/' {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i]
		}
		return u
	}
	// Absolute-form ("http://host/path") or "*": fall back to the parsed URL.
	return r.URL.EscapedPath()
}
