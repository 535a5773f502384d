package schema

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

func checkVirtualService(s *docState, vs *VirtualService) {
	delegate := len(vs.Hosts) == 0
	if delegate {
		// A VirtualService without hosts is reached only through another one's delegate.
		if len(vs.Gateways) > 0 {
			s.fail("spec.gateways", "a delegate VirtualService (one without hosts) cannot name gateways")
		}
		if len(vs.TLS) > 0 {
			s.fail("spec.tls", "a delegate VirtualService (one without hosts) cannot have tls routes")
		}
		if len(vs.TCP) > 0 {
			s.fail("spec.tcp", "a delegate VirtualService (one without hosts) cannot have tcp routes")
		}
	}
	mesh := len(vs.Gateways) == 0
	for _, g := range vs.Gateways {
		mesh = mesh || g == "mesh"
	}
	for i, h := range vs.Hosts {
		if h == "*" && mesh {
			s.fail(idx("spec.hosts", i), `host "*" is only allowed for a VirtualService bound to gateways (not to the mesh)`)
		}
		for j := 0; j < i; j++ {
			if HostsOverlap(vs.Hosts[j], h) {
				if vs.Hosts[j] == h || HostCovers(vs.Hosts[j], h) {
					s.failf(idx("spec.hosts", i), "duplicate host %q: %q (spec.hosts[%d]) already covers it", h, vs.Hosts[j], j)
				} else {
					s.failf(idx("spec.hosts", i), "duplicate host %q: it covers %q (spec.hosts[%d]); a VirtualService's hosts must not overlap", h, vs.Hosts[j], j)
				}
				break
			}
		}
	}
	if len(vs.HTTP) == 0 && len(vs.TCP) == 0 && len(vs.TLS) == 0 {
		s.fail("spec", "needs http, tcp or tls routes")
	}
	for i := range vs.HTTP {
		checkHTTPRoute(s, idx("spec.http", i), &vs.HTTP[i], delegate, mesh)
	}
	for i, r := range vs.TLS {
		p := idx("spec.tls", i)
		if len(r.Match) == 0 {
			s.fail(p+".match", "a tls route needs at least one match")
		}
		for j, m := range r.Match {
			mp := idx(p+".match", j)
			if len(m.SNIHosts) == 0 {
				s.fail(mp+".sniHosts", "must not be empty")
			}
			for k, h := range m.SNIHosts {
				checkSNIHost(s, idx(mp+".sniHosts", k), h, vs.Hosts)
			}
			checkIPOrCIDRs(s, mp+".destinationSubnets", m.DestinationSubnets)
			checkLabels(s, mp+".sourceLabels", m.SourceLabels)
		}
		if len(r.Route) == 0 {
			s.fail(p+".route", "a tls route needs at least one destination")
		}
		checkRouteDestinations(s, p+".route", len(r.Route), func(i int) (*Destination, *int32) { return &r.Route[i].Destination, r.Route[i].Weight })
	}
	for i, r := range vs.TCP {
		p := idx("spec.tcp", i)
		for j, m := range r.Match {
			mp := idx(p+".match", j)
			checkIPOrCIDRs(s, mp+".destinationSubnets", m.DestinationSubnets)
			if m.SourceSubnet != "" && !isIPOrCIDR(m.SourceSubnet) {
				s.failf(mp+".sourceSubnet", "must be an IP address or a CIDR prefix, got %q", m.SourceSubnet)
			}
			checkLabels(s, mp+".sourceLabels", m.SourceLabels)
		}
		if len(r.Route) == 0 {
			s.fail(p+".route", "a tcp route needs at least one destination")
		}
		checkRouteDestinations(s, p+".route", len(r.Route), func(i int) (*Destination, *int32) { return &r.Route[i].Destination, r.Route[i].Weight })
	}
	checkExportTo(s, "spec.exportTo", vs.ExportTo, false)
}

// checkSNIHost: an SNI host must be one the VirtualService serves.
func checkSNIHost(s *docState, path, sni string, hosts []string) {
	if isIP(sni) {
		return // Istio warns: an IP goes against the SNI specification.
	}
	for _, h := range hosts {
		if h == sni || h == "*" {
			return
		}
		if suffix, ok := strings.CutPrefix(h, "*"); ok && strings.HasSuffix(sni, suffix) {
			return
		}
	}
	s.failf(path, "SNI host %q is not covered by any host of the VirtualService (%s)", sni, strings.Join(hosts, ", "))
}

func checkHTTPRoute(s *docState, p string, r *HTTPRoute, delegateVS, mesh bool) {
	root := !delegateVS && r.Delegate != nil
	switch {
	case root:
		// A route that delegates takes its destinations from the delegate.
		if r.Redirect != nil {
			s.fail(p+".redirect", "a route with delegate cannot also redirect")
		}
		if len(r.Route) > 0 || s.has(p+".route") {
			s.fail(p+".route", "a route with delegate cannot also have route")
		}
		if r.DirectResponse != nil {
			s.fail(p+".directResponse", "a route with delegate cannot also have directResponse")
		}
	default:
		if delegateVS && r.Delegate != nil {
			s.fail(p+".delegate", "a delegate VirtualService's route cannot delegate again")
		}
		if r.Redirect != nil {
			if len(r.Route) > 0 {
				s.fail(p+".redirect", "a route cannot have both route and redirect")
			}
			if r.Fault != nil {
				s.fail(p+".fault", "a route cannot have both fault and redirect")
			}
			if r.Rewrite != nil {
				s.fail(p+".rewrite", "a route cannot have both rewrite and redirect")
			}
		}
		if r.DirectResponse != nil {
			if len(r.Route) > 0 {
				s.fail(p+".directResponse", "a route cannot have both route and directResponse")
			}
			if r.Redirect != nil {
				s.fail(p+".directResponse", "a route cannot have both redirect and directResponse")
			}
		}
		if len(r.Route) == 0 && r.Redirect == nil && r.DirectResponse == nil && r.Delegate == nil {
			s.fail(p, "needs route, redirect, directResponse or delegate")
		}
		// Istio's validateHTTPRouteConflict, which a delegating root route skips as here.
		if r.Mirror != nil && len(r.Mirrors) > 0 {
			s.fail(p+".mirrors", "a route cannot have both mirror and mirrors")
		}
	}
	for i := range r.Match {
		checkHTTPMatch(s, idx(p+".match", i), &r.Match[i], mesh)
	}
	checkHTTPRouteDestinations(s, p+".route", r.Route)
	checkHeaders(s, p+".headers", r.Headers)
	checkAuthorityRewrite(s, p, r)
	checkCORS(s, p+".corsPolicy", r.CorsPolicy)
	checkFault(s, p+".fault", r.Fault)
	if r.Mirror != nil {
		checkDestination(s, p+".mirror", r.Mirror)
	}
	for i := range r.Mirrors {
		checkDestination(s, idx(p+".mirrors", i)+".destination", &r.Mirrors[i].Destination)
	}
	checkRedirect(s, p+".redirect", r.Redirect)
	checkRetries(s, p+".retries", r.Retries)
	checkRewrite(s, p+".rewrite", r.Rewrite)
	checkDuration(s, p+".timeout", r.Timeout)
	if d := r.DirectResponse; d != nil && d.Body != nil {
		bp := p + ".directResponse.body"
		str, bytes := s.has(bp+".string"), s.has(bp+".bytes")
		switch {
		case str && bytes:
			s.fail(bp, "must set one of string or bytes, not both")
		case bytes:
			if _, err := base64.StdEncoding.DecodeString(d.Body.Bytes); err != nil {
				s.fail(bp+".bytes", "must be base64 (standard alphabet, padded)")
			}
		}
		if len(d.Body.String) > 1<<20 || len(d.Body.Bytes) > 1<<20 {
			s.fail(bp, "larger than 1 MiB (Istio's limit for a direct response)")
		}
	}
}

func checkHTTPMatch(s *docState, p string, m *HTTPMatchRequest, mesh bool) {
	checkStringMatch(s, p+".uri", m.URI, true)
	checkStringMatch(s, p+".scheme", m.Scheme, true)
	checkStringMatch(s, p+".method", m.Method, true)
	checkStringMatch(s, p+".authority", m.Authority, true)
	for _, set := range []struct {
		field string
		m     map[string]StringMatch
	}{{"headers", m.Headers}, {"withoutHeaders", m.WithoutHeaders}, {"queryParams", m.QueryParams}} {
		for name, sm := range set.m {
			kp := key(p+"."+set.field, name)
			if set.field != "queryParams" {
				checkMatchHeaderName(s, kp, name, mesh)
			}
			checkStringMatch(s, kp, &sm, true)
		}
	}
	checkLabels(s, p+".sourceLabels", m.SourceLabels)
}

// checkMatchHeaderName: a header name, or a JWT claim ("@request.auth.claims.sub"), which only
// gateways can match.
func checkMatchHeaderName(s *docState, path, name string, mesh bool) {
	if strings.HasPrefix(name, "@request.auth.claims") {
		if mesh {
			s.failf(path, "matching a JWT claim (%s) is only supported for VirtualServices bound to gateways", name)
		}
		return
	}
	if !isHeaderName(name) {
		s.failf(path, "invalid header name %q: letters, digits, '-' and '_'", name)
	}
}

func isHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checkHTTPRouteDestinations(s *docState, p string, route []HTTPRouteDestination) {
	checkRouteDestinations(s, p, len(route), func(i int) (*Destination, *int32) { return &route[i].Destination, route[i].Weight })
	for i := range route {
		checkHeaders(s, idx(p, i)+".headers", route[i].Headers)
	}
}

// checkRouteDestinations: each destination valid; with several, not all weights 0.
func checkRouteDestinations(s *docState, p string, n int, at func(int) (*Destination, *int32)) {
	total := int64(0)
	for i := 0; i < n; i++ {
		d, w := at(i)
		checkDestination(s, idx(p, i)+".destination", d)
		if w != nil {
			total += int64(*w)
		}
	}
	if n > 1 && total == 0 {
		s.fail(p, "all destination weights are 0; give at least one a weight above 0")
	}
}

func checkDestination(s *docState, p string, d *Destination) {
	if d.Host == "*" {
		s.fail(p+".host", `"*" is not a destination host`)
	}
}

// checkHeaders applies Istio's rules for header operations: no pseudo-headers (":path"), no
// Host except as the request's authority, no control characters in values.
func checkHeaders(s *docState, p string, h *HeadersPolicy) {
	if h == nil {
		return
	}
	ops := func(op *HeaderOperations, dir string, request bool) {
		if op == nil {
			return
		}
		op2 := p + "." + dir
		for _, set := range []struct {
			field string
			m     map[string]string
		}{{"set", op.Set}, {"add", op.Add}} {
			for name, v := range set.m {
				kp := key(op2+"."+set.field, name)
				checkHeaderOpName(s, kp, name, request)
				if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
					s.failf(kp, "header value %q has control characters", v)
				} else if !envoyFormatOK(v) {
					s.failf(kp, "header value %q: a %% starts an Envoy variable (%%HOSTNAME%%) or is doubled (100%%%%)", v)
				}
			}
		}
		for i, name := range op.Remove {
			checkHeaderOpName(s, idx(op2+".remove", i), name, false)
		}
	}
	ops(h.Request, "request", true)
	ops(h.Response, "response", false)
}

func checkHeaderOpName(s *docState, path, name string, setRequest bool) {
	authority := strings.EqualFold(name, ":authority") || strings.EqualFold(name, "host")
	switch {
	case name == "":
		s.fail(path, "header name must not be empty")
	case setRequest && authority:
	case strings.EqualFold(name, "host"):
		s.failf(path, "invalid header %q: cannot set or remove Host here", name)
	case strings.HasPrefix(name, ":"):
		s.failf(path, "invalid header %q: pseudo-headers (\":\" prefix) cannot be changed", name)
	}
}

// checkAuthorityRewrite: the authority is rewritten in one place only.
func checkAuthorityRewrite(s *docState, p string, r *HTTPRoute) {
	n := 0
	if r.Rewrite != nil && r.Rewrite.Authority != "" {
		n++
	}
	if r.Headers != nil && r.Headers.Request != nil {
		for _, m := range []map[string]string{r.Headers.Request.Set, r.Headers.Request.Add} {
			for k := range m {
				if strings.EqualFold(k, ":authority") || strings.EqualFold(k, "host") {
					n++
				}
			}
		}
	}
	if n > 1 {
		s.fail(p+".headers", "the authority is set more than once (rewrite.authority and headers, or several headers)")
	}
}

func checkCORS(s *docState, p string, c *CorsPolicy) {
	if c == nil {
		return
	}
	for i := range c.AllowOrigins {
		op := idx(p+".allowOrigins", i)
		o := c.AllowOrigins[i]
		if o.Exact == "" && o.Prefix == "" && o.Regex == "" {
			s.fail(op, "must set one of exact, prefix or regex to a non-empty value")
			continue
		}
		checkStringMatch(s, op, &o, false)
	}
	if c.MaxAge != "" {
		checkDuration(s, p+".maxAge", c.MaxAge)
		if d, err := ParseDuration(c.MaxAge); err == nil && d%1e9 != 0 {
			s.failf(p+".maxAge", "must be a whole number of seconds, got %q", c.MaxAge)
		}
	}
}

func checkFault(s *docState, p string, f *HTTPFaultInjection) {
	if f == nil {
		return
	}
	if f.Abort == nil && f.Delay == nil {
		s.fail(p, "needs abort, delay or both")
	}
	if a := f.Abort; a != nil {
		ap := p + ".abort"
		n := 0
		for _, f := range []string{"httpStatus", "grpcStatus", "http2Error"} {
			if s.has(ap + "." + f) {
				n++
			}
		}
		switch {
		case n > 1:
			s.fail(ap, "must set exactly one of httpStatus, grpcStatus or http2Error")
		case s.has(ap + ".http2Error"):
			s.fail(ap+".http2Error", "HTTP/2 abort fault injection is not supported by Istio")
		}
		checkPercentage(s, ap+".percentage", a.Percentage)
	}
	if d := f.Delay; d != nil {
		dp := p + ".delay"
		switch {
		case d.FixedDelay != "" && d.ExponentialDelay != "":
			s.fail(dp, "must set one of fixedDelay or exponentialDelay, not both")
		case d.ExponentialDelay != "":
			s.fail(dp+".exponentialDelay", "exponentialDelay is not supported by Istio")
		}
		checkDuration(s, dp+".fixedDelay", d.FixedDelay)
		checkPercentage(s, dp+".percentage", d.Percentage)
	}
}

// checkPercentage: 0, or at least 0.0001 (Envoy's resolution); the schema bounds it by 100.
func checkPercentage(s *docState, p string, v *Percent) {
	if v != nil && v.Value > 0 && v.Value < 0.0001 {
		s.failf(p+".value", "must be 0 or at least 0.0001, got %v", v.Value)
	}
}

func checkRedirect(s *docState, p string, r *HTTPRedirect) {
	if r == nil {
		return
	}
	if r.URI == "" && r.Authority == "" && r.Port == 0 && r.DerivePort == "" && r.Scheme == "" {
		s.fail(p, "must set uri, authority, scheme, port or derivePort")
	}
	if s.has(p+".port") && s.has(p+".derivePort") {
		s.fail(p+".derivePort", "must set one of port or derivePort, not both")
	}
}

func checkRewrite(s *docState, p string, r *HTTPRewrite) {
	if r == nil {
		return
	}
	switch {
	case r.URI != "" && r.URIRegexRewrite != nil:
		s.fail(p, "must set one of uri or uriRegexRewrite, not both")
	case r.URI == "" && r.URIRegexRewrite == nil && r.Authority == "":
		s.fail(p, "must set uri, uriRegexRewrite or authority")
	}
	if rr := r.URIRegexRewrite; rr != nil {
		checkRegex(s, p+".uriRegexRewrite.match", rr.Match)
	}
}

// retryOnPolicies are the retry conditions Envoy knows (x-envoy-retry-on and
// x-envoy-retry-grpc-on); HTTP status codes are accepted too.
var retryOnPolicies = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true,
	"connect-failure": true, "retriable-4xx": true, "refused-stream": true,
	"retriable-status-codes": true, "retriable-headers": true, "envoy-ratelimited": true,
	"http3-post-connect-failure": true, "cancelled": true, "deadline-exceeded": true,
	"internal": true, "resource-exhausted": true, "unavailable": true,
}

func checkRetries(s *docState, p string, r *HTTPRetry) {
	if r == nil {
		return
	}
	if r.Attempts == 0 && (r.PerTryTimeout != "" || r.RetryOn != "" || r.RetryRemoteLocalities != nil) {
		s.fail(p+".attempts", "retry settings are given but attempts is 0 (retries disabled); set attempts")
	}
	checkDuration(s, p+".perTryTimeout", r.PerTryTimeout)
	checkDuration(s, p+".backoff", r.Backoff)
	if r.RetryOn != "" {
		for _, policy := range strings.Split(r.RetryOn, ",") {
			if n, err := strconv.Atoi(policy); err == nil && http.StatusText(n) != "" {
				continue
			}
			if !retryOnPolicies[policy] {
				s.fail(p+".retryOn", fmt.Sprintf("%q is not a retry condition Envoy knows (such as 5xx, gateway-error, connect-failure, or an HTTP status code)", policy))
			}
		}
	}
}

// envoyFormatOK checks the % escapes of a header value Envoy formats: "%%" is a percent sign,
// "%NAME%" a variable; a lone % is refused by Envoy.
func envoyFormatOK(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			i++
			continue
		}
		j := strings.IndexByte(v[i+1:], '%')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return true
}
