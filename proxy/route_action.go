package proxy

import (
	"net"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// regexRewrite is a RegexMatchAndSubstitute: every match of re in the path is replaced.
type regexRewrite struct {
	re  *regexp.Regexp
	sub string // in Go's expansion syntax
}

func decodeRegexRewrite(p fieldPath, m *matcherv3.RegexMatchAndSubstitute) (*regexRewrite, error) {
	if err := onlyFields(p, m, "pattern", "substitution"); err != nil {
		return nil, err
	}
	pp := p.field("pattern")
	if err := onlyFields(pp, m.GetPattern(), "regex", "google_re2"); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(m.GetPattern().GetRegex())
	if err != nil {
		return nil, pp.field("regex").errorf("invalid RE2 regex %q: %v", m.GetPattern().GetRegex(), err)
	}
	return &regexRewrite{re: re, sub: envoySubstitution(m.GetSubstitution())}, nil
}

// envoySubstitution turns RE2's \1 backreferences into Go's ${1} and escapes '$'.
func envoySubstitution(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		case c == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (rr *regexRewrite) apply(path string) string {
	return rr.re.ReplaceAllString(path, rr.sub)
}

// redirectAction is a RedirectAction: the proxy answers with a Location built from the request.
type redirectAction struct {
	scheme       string // "" keeps the request's
	host         string // "" keeps the request's
	port         string // "" keeps the request's
	path         string
	hasPath      bool
	prefix       string
	hasPrefix    bool
	regex        *regexRewrite
	code         int
	stripQuery   bool
	pathHasQuery bool
	routePrefix  string // the route's match prefix, which prefix_rewrite replaces
}

var redirectCodes = map[routev3.RedirectAction_RedirectResponseCode]int{
	routev3.RedirectAction_MOVED_PERMANENTLY:  http.StatusMovedPermanently,
	routev3.RedirectAction_FOUND:              http.StatusFound,
	routev3.RedirectAction_SEE_OTHER:          http.StatusSeeOther,
	routev3.RedirectAction_TEMPORARY_REDIRECT: http.StatusTemporaryRedirect,
	routev3.RedirectAction_PERMANENT_REDIRECT: http.StatusPermanentRedirect,
}

func decodeRedirect(p fieldPath, m *routev3.RedirectAction) (*redirectAction, error) {
	if err := onlyFields(p, m, "https_redirect", "scheme_redirect", "host_redirect", "port_redirect",
		"path_redirect", "prefix_rewrite", "regex_rewrite", "response_code", "strip_query"); err != nil {
		return nil, err
	}
	ra := &redirectAction{host: m.GetHostRedirect(), stripQuery: m.GetStripQuery()}
	code, ok := redirectCodes[m.GetResponseCode()]
	if !ok {
		return nil, p.field("response_code").errorf("%s is not supported", m.GetResponseCode())
	}
	ra.code = code
	if m.GetHttpsRedirect() {
		ra.scheme = "https"
	} else if s := m.GetSchemeRedirect(); s != "" {
		ra.scheme = strings.ToLower(s)
	}
	if port := m.GetPortRedirect(); port != 0 {
		ra.port = strconv.FormatUint(uint64(port), 10)
	}
	switch ps := m.GetPathRewriteSpecifier().(type) {
	case *routev3.RedirectAction_PathRedirect:
		ra.path, ra.hasPath = ps.PathRedirect, true
		ra.pathHasQuery = strings.Contains(ps.PathRedirect, "?")
	case *routev3.RedirectAction_PrefixRewrite:
		ra.prefix, ra.hasPrefix = ps.PrefixRewrite, true
	case *routev3.RedirectAction_RegexRewrite:
		rr, err := decodeRegexRewrite(p.field("regex_rewrite"), ps.RegexRewrite)
		if err != nil {
			return nil, err
		}
		ra.regex = rr
	}
	return ra, nil
}

// location builds the redirect target the way Envoy's Http::Utility::newUri does: a
// host_redirect is used as written and a port_redirect is appended to whichever host is used,
// so Istio's FROM_PROTOCOL_DEFAULT (no port_redirect) keeps whatever port the request named.
func (ra *redirectAction) location(r *http.Request) string {
	// The request's protocol is the connection's: Envoy's x-forwarded-proto for a peer it does
	// not trust.
	origScheme := "http"
	if r.TLS != nil {
		origScheme = "https"
	}
	scheme := origScheme
	if ra.scheme != "" {
		scheme = ra.scheme
	}
	host := ra.host
	if host == "" {
		host = redirectRequestHost(r.Host, origScheme, scheme, ra.port != "")
	}
	if ra.port != "" {
		host += ":" + ra.port
	}
	path, query := requestPath(r), r.URL.RawQuery
	switch {
	case ra.hasPath:
		path = ra.path
		if ra.pathHasQuery {
			path, query, _ = strings.Cut(ra.path, "?")
		}
	case ra.hasPrefix:
		path = ra.prefix + path[min(len(ra.routePrefix), len(path)):]
	case ra.regex != nil:
		path = ra.regex.apply(path)
	}
	if ra.stripQuery {
		query = ""
	}
	u := scheme + "://" + host + path
	if query != "" {
		u += "?" + query
	}
	return u
}

// redirectRequestHost is Envoy's processRequestHost: the request's Host loses its port when a
// port_redirect replaces it, or when the scheme changes and the port was the old scheme's
// default (http://svc:80 becomes https://svc); otherwise it is kept as the client sent it,
// ":80" on an http to http redirect included.
func redirectRequestHost(host, origScheme, scheme string, portRedirect bool) string {
	if host == "" {
		return host
	}
	var end int
	if host[0] == '[' {
		// An IPv6 literal: only a colon after the closing bracket starts a port.
		if end = strings.LastIndex(host, "]:"); end >= 0 {
			end++
		}
	} else {
		end = strings.LastIndexByte(host, ':')
	}
	if end < 0 {
		return host
	}
	port := host[end+1:]
	remove := portRedirect
	if scheme != origScheme {
		remove = remove || origScheme == "https" && port == "443" || origScheme == "http" && port == "80"
	}
	if remove {
		return host[:end]
	}
	return host
}

// directResponse is a DirectResponseAction: status and body, no upstream.
type directResponse struct {
	status int
	body   string
}

func decodeDirectResponse(p fieldPath, m *routev3.DirectResponseAction) (*directResponse, error) {
	if err := onlyFields(p, m, "status", "body"); err != nil {
		return nil, err
	}
	dr := &directResponse{status: int(m.GetStatus())}
	if b := m.GetBody(); b != nil {
		bp := p.field("body")
		if err := onlyFields(bp, b, "inline_string", "inline_bytes"); err != nil {
			return nil, err
		}
		switch s := b.GetSpecifier().(type) {
		case *core.DataSource_InlineString:
			dr.body = s.InlineString
		case *core.DataSource_InlineBytes:
			dr.body = string(s.InlineBytes)
		}
	}
	return dr, nil
}

// hashKind is the source of one hash policy.
type hashKind uint8

const (
	hashHeader hashKind = iota
	hashCookie
	hashSourceIP
	hashQuery
)

type hashPolicy struct {
	kind       hashKind
	name       string // header (canonical), cookie or query parameter name
	ttl        time.Duration
	hasTTL     bool
	cookiePath string
	terminal   bool
}

func decodeHashPolicy(p fieldPath, h *routev3.RouteAction_HashPolicy) (hashPolicy, error) {
	if err := onlyFields(p, h, "header", "cookie", "connection_properties", "query_parameter", "terminal"); err != nil {
		return hashPolicy{}, err
	}
	hp := hashPolicy{terminal: h.GetTerminal()}
	switch s := h.GetPolicySpecifier().(type) {
	case *routev3.RouteAction_HashPolicy_Header_:
		if err := onlyFields(p.field("header"), s.Header, "header_name"); err != nil {
			return hp, err
		}
		hp.kind, hp.name = hashHeader, textproto.CanonicalMIMEHeaderKey(s.Header.GetHeaderName())
		if strings.HasPrefix(s.Header.GetHeaderName(), ":") {
			switch s.Header.GetHeaderName() {
			case ":authority":
				hp.name = "Host"
			default:
				return hp, p.field("header").field("header_name").errorf("pseudo-header %q is not supported", s.Header.GetHeaderName())
			}
		}
	case *routev3.RouteAction_HashPolicy_Cookie_:
		cp := p.field("cookie")
		if err := onlyFields(cp, s.Cookie, "name", "ttl", "path"); err != nil {
			return hp, err
		}
		hp.kind, hp.name, hp.cookiePath = hashCookie, s.Cookie.GetName(), s.Cookie.GetPath()
		if s.Cookie.GetTtl() != nil {
			hp.hasTTL, hp.ttl = true, s.Cookie.GetTtl().AsDuration()
		}
	case *routev3.RouteAction_HashPolicy_ConnectionProperties_:
		if err := onlyFields(p.field("connection_properties"), s.ConnectionProperties, "source_ip"); err != nil {
			return hp, err
		}
		if !s.ConnectionProperties.GetSourceIp() {
			return hp, p.field("connection_properties").field("source_ip").errorf("must be true")
		}
		hp.kind = hashSourceIP
	case *routev3.RouteAction_HashPolicy_QueryParameter_:
		if err := onlyFields(p.field("query_parameter"), s.QueryParameter, "name"); err != nil {
			return hp, err
		}
		hp.kind, hp.name = hashQuery, s.QueryParameter.GetName()
	default:
		return hp, p.errorf("one of header, cookie, connection_properties, query_parameter is required")
	}
	return hp, nil
}

// mirrorPolicy is a RequestMirrorPolicy: a share of requests is copied to another cluster.
type mirrorPolicy struct {
	cluster  string
	share    fraction
	noSuffix bool
}

func decodeMirrorPolicy(p fieldPath, m *routev3.RouteAction_RequestMirrorPolicy) (mirrorPolicy, error) {
	if err := onlyFields(p, m, "cluster", "runtime_fraction", "trace_sampled", "disable_shadow_host_suffix_append"); err != nil {
		return mirrorPolicy{}, err
	}
	if m.GetCluster() == "" {
		return mirrorPolicy{}, p.field("cluster").errorf("required")
	}
	mp := mirrorPolicy{cluster: m.GetCluster(), share: always, noSuffix: m.GetDisableShadowHostSuffixAppend()}
	if rf := m.GetRuntimeFraction(); rf != nil {
		f, err := decodeRuntimeFraction(p.field("runtime_fraction"), rf)
		if err != nil {
			return mirrorPolicy{}, err
		}
		mp.share = f
	}
	return mp, nil
}

// shadowHost appends Envoy's "-shadow" suffix to the host, before the port if there is one.
func shadowHost(host string) string {
	if h, port, err := net.SplitHostPort(host); err == nil {
		return net.JoinHostPort(h+"-shadow", port)
	}
	return host + "-shadow"
}
