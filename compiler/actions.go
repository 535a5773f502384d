package compiler

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// Istio's retry policy for a route whose VirtualService says nothing about retries.
const (
	defaultRetryAttempts = 2
	defaultRetryOn       = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
	// hostSelectionAttempts is how often Envoy re-picks to avoid a host already tried.
	hostSelectionAttempts = 5
)

// forwarding fills what a forwarding route does besides picking clusters: rewrite, timeout,
// retries, mirrors and the consistent-hash keys of its destination.
func (b *builder) forwarding(d *schema.Document, path string, in schema.HTTPRoute, out *ir.Route, authority string) {
	if rw := in.Rewrite; rw != nil {
		out.Rewrite = &ir.Rewrite{}
		if rw.Authority != "" {
			authority = rw.Authority
		}
		if rr := rw.URIRegexRewrite; rr != nil {
			out.Rewrite.RegexMatch, out.Rewrite.RegexSubstitution = rr.Match, rr.Rewrite
		} else {
			// Envoy swaps the matched prefix, or the whole path of an exact match: Istio's
			// translation for both.
			out.Rewrite.Prefix = rw.URI
		}
	}
	// The Host header set by the rule's header operations is a rewrite too, unless the rewrite
	// names one.
	if authority != "" {
		if out.Rewrite == nil {
			out.Rewrite = &ir.Rewrite{}
		}
		out.Rewrite.Authority = authority
	}
	if in.Timeout != "" {
		out.Timeout = b.duration(d, path+".timeout", in.Timeout)
	}
	// Envoy hashes per route: each destination's hash keys, in order, as Istio appends them.
	for _, c := range out.Clusters {
		if cl := b.clusters[c.Name]; cl != nil && cl.Policy != nil {
			out.Hash = append(out.Hash, cl.Policy.Hash...)
		}
	}
	// A lone destination that hashes keeps retries on the same host.
	consistentHash := len(in.Route) <= 1 && len(out.Hash) > 0
	out.Retry = b.retry(d, path+".retries", in.Retries, consistentHash)
	if in.Mirror != nil {
		pct := 100.0
		switch {
		case in.MirrorPercentage != nil:
			pct = in.MirrorPercentage.Value
		case in.MirrorPercent != nil:
			pct = float64(*in.MirrorPercent)
		}
		// An explicit 0% mirrors nothing: no policy at all, as Istio does.
		if c, ok := b.resolveDestination(d, path+".mirror", *in.Mirror, "", 0); ok && pct > 0 {
			out.Mirrors = append(out.Mirrors, ir.Mirror{Cluster: c, Percent: pct})
		}
	}
	for i, m := range in.Mirrors {
		pct := 100.0
		if m.Percentage != nil {
			pct = m.Percentage.Value
		}
		if c, ok := b.resolveDestination(d, fmt.Sprintf("%s.mirrors[%d].destination", path, i), m.Destination, "", 0); ok && pct > 0 {
			out.Mirrors = append(out.Mirrors, ir.Mirror{Cluster: c, Percent: pct})
		}
	}
}

// defaultRoute is Istio's route for a service no VirtualService routes: everything to the
// service port's cluster, with the default retry policy and the DestinationRule's hash keys.
func (b *builder) defaultRoute(cluster string) *ir.Route {
	r := &ir.Route{Name: "default", Clusters: []ir.WeightedCluster{{Name: cluster, Weight: 100}}}
	b.forwarding(nil, "", schema.HTTPRoute{}, r, "")
	return r
}

// retry is Istio's retry translation: nil retries get Istio's default policy, zero attempts
// none; retryOn may list status codes, which become retriable status codes.
func (b *builder) retry(d *schema.Document, path string, in *schema.HTTPRetry, consistentHash bool) *ir.RetryPolicy {
	if in == nil {
		// Shared: IR values are never changed once built, and the xDS stage builds one proto
		// for all the routes that carry the same policy.
		if consistentHash {
			return &defaultHashRetry
		}
		return &defaultRetry
	}
	out := &ir.RetryPolicy{
		Attempts:              defaultRetryAttempts,
		RetryOn:               defaultRetryOn,
		StatusCodes:           []uint32{http.StatusServiceUnavailable},
		PreviousHosts:         !consistentHash,
		HostSelectionAttempts: hostSelectionAttempts,
	}
	if in.Attempts <= 0 {
		return nil
	}
	out.Attempts = uint32(in.Attempts)
	if in.RetryOn != "" {
		out.RetryOn, out.StatusCodes = parseRetryOn(in.RetryOn)
		if len(out.StatusCodes) > 0 && !strings.Contains(out.RetryOn, "retriable-status-codes") {
			out.RetryOn = strings.TrimPrefix(out.RetryOn+",retriable-status-codes", ",")
		}
	}
	if in.PerTryTimeout != "" {
		out.PerTryTimeout = b.duration(d, path+".perTryTimeout", in.PerTryTimeout)
	}
	if in.RetryIgnorePreviousHosts != nil {
		out.PreviousHosts = *in.RetryIgnorePreviousHosts
	}
	if in.RetryRemoteLocalities != nil && *in.RetryRemoteLocalities {
		b.unsupported(d, path+".retryRemoteLocalities")
	}
	if in.Backoff != "" {
		out.Backoff = b.duration(d, path+".backoff", in.Backoff)
	}
	return out
}

// Istio's default retry policies, without and with consistent hashing.
var (
	defaultRetry = ir.RetryPolicy{Attempts: defaultRetryAttempts, RetryOn: defaultRetryOn,
		StatusCodes: []uint32{http.StatusServiceUnavailable}, PreviousHosts: true, HostSelectionAttempts: hostSelectionAttempts}
	defaultHashRetry = ir.RetryPolicy{Attempts: defaultRetryAttempts, RetryOn: defaultRetryOn,
		StatusCodes: []uint32{http.StatusServiceUnavailable}, HostSelectionAttempts: hostSelectionAttempts}
)

// parseRetryOn splits Istio's retryOn into Envoy conditions and HTTP status codes.
func parseRetryOn(s string) (string, []uint32) {
	var conds []string
	var codes []uint32
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if n, err := strconv.Atoi(part); err == nil && http.StatusText(n) != "" {
			codes = append(codes, uint32(n))
			continue
		}
		conds = append(conds, part)
	}
	return strings.Join(conds, ","), codes
}

// redirect is Istio's redirect translation (ApplyRedirect); the default code is 301 and
// FROM_REQUEST_PORT is the port the routes are built for. FROM_PROTOCOL_DEFAULT sets no port:
// Envoy then keeps the request's authority (dropping its port only on a scheme change).
func (b *builder) redirect(d *schema.Document, path string, in *schema.HTTPRedirect, listenerPort uint32, tls bool) *ir.Redirect {
	out := &ir.Redirect{Scheme: in.Scheme, Authority: in.Authority, Path: in.URI, Port: in.Port, Code: in.RedirectCode}
	if out.Code == 0 {
		out.Code = http.StatusMovedPermanently
	}
	switch out.Code {
	case 301, 302, 303, 307, 308:
	default:
		b.errorf(d, path+".redirectCode", "redirect code %d is not one of 301, 302, 303, 307, 308", out.Code)
	}
	if in.DerivePort == "FROM_REQUEST_PORT" {
		if listenerPort == 0 {
			b.unsupportedf(d, path+".derivePort", "the host of this rule has no port of its own")
		}
		out.Port = listenerPort
	}
	// No explicit :80 for http or :443 for https. Without a scheme Istio takes https for a
	// gateway server with a tls block and http otherwise, whatever the request's scheme.
	scheme := in.Scheme
	if scheme == "" {
		scheme = "http"
		if tls {
			scheme = "https"
		}
	}
	if out.Port == 80 && scheme == "http" || out.Port == 443 && scheme == "https" {
		out.Port = 0
	}
	return out
}

// directResponse answers without an upstream; a bytes body is base64 in YAML, as in Istio.
func (b *builder) directResponse(d *schema.Document, path string, in *schema.HTTPDirectResponse) *ir.DirectResponse {
	out := &ir.DirectResponse{Status: in.Status}
	if in.Body != nil {
		if in.Body.Bytes != "" {
			raw, err := base64.StdEncoding.DecodeString(in.Body.Bytes)
			if err != nil {
				b.errorf(d, path+".body.bytes", "not base64: %v", err)
			}
			out.BodyBytes = raw
		} else {
			out.Body = in.Body.String
		}
	}
	return out
}

// headerOps is Istio's header translation, sorted (maps have no order; the IR must). Host and
// pseudo-headers cannot be edited: setting (or adding) Host or :authority rewrites the
// authority instead, which headerOps returns ("set" winning over "add").
func headerOps(in *schema.HeaderOperations) (ir.HeaderOps, string) {
	var out ir.HeaderOps
	if in == nil {
		return out, ""
	}
	var setAuthority, addAuthority string
	for _, k := range slices.Sorted(maps.Keys(in.Set)) {
		if isAuthorityHeader(k) {
			setAuthority = in.Set[k]
		}
		if !isInternalHeader(k) {
			out.Set = append(out.Set, ir.Header{Name: k, Value: in.Set[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in.Add)) {
		if isAuthorityHeader(k) {
			addAuthority = in.Add[k]
		}
		if !isInternalHeader(k) {
			out.Add = append(out.Add, ir.Header{Name: k, Value: in.Add[k]})
		}
	}
	for _, k := range in.Remove {
		if !isInternalHeader(k) {
			out.Remove = append(out.Remove, k)
		}
	}
	if setAuthority != "" {
		return out, setAuthority
	}
	return out, addAuthority
}

func isInternalHeader(k string) bool {
	return strings.HasPrefix(k, ":") || strings.EqualFold(k, "host")
}

func isAuthorityHeader(k string) bool {
	return strings.EqualFold(k, ":authority") || strings.EqualFold(k, "host")
}

func mergeOps(a, c ir.HeaderOps) ir.HeaderOps {
	return ir.HeaderOps{
		Set:    append(slices.Clone(a.Set), c.Set...),
		Add:    append(slices.Clone(a.Add), c.Add...),
		Remove: append(slices.Clone(a.Remove), c.Remove...),
	}
}

// grpcCodes are the gRPC status names Istio accepts in fault.abort.grpcStatus.
var grpcCodes = map[string]uint32{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// fault is Istio's fault translation.
func (b *builder) fault(d *schema.Document, path string, in *schema.HTTPFaultInjection) *ir.Fault {
	out := &ir.Fault{}
	if dl := in.Delay; dl != nil {
		switch {
		case dl.ExponentialDelay != "":
			b.unsupported(d, path+".delay.exponentialDelay")
		case dl.FixedDelay != "":
			out.Delay = b.duration(d, path+".delay.fixedDelay", dl.FixedDelay)
		}
		out.DelayPercent = percentOr(dl.Percentage, dl.Percent)
	}
	if ab := in.Abort; ab != nil {
		switch {
		case ab.HTTP2Error != "":
			b.unsupported(d, path+".abort.http2Error")
		case ab.GRPCStatus != "":
			code, ok := grpcCodes[ab.GRPCStatus]
			if !ok {
				if n, err := strconv.ParseUint(ab.GRPCStatus, 10, 32); err == nil {
					code, ok = uint32(n), true
				}
			}
			if !ok {
				b.errorf(d, path+".abort.grpcStatus", "%q is not a gRPC status code", ab.GRPCStatus)
			}
			out.AbortGRPC = &code
		default:
			out.AbortHTTP = uint32(ab.HTTPStatus)
		}
		out.AbortPercent = percentOr(ab.Percentage, 0)
	}
	return out
}

// percentOr is Istio's fault percentage: the percentage, else the deprecated whole percent;
// left unspecified, no request is faulted.
func percentOr(p *schema.Percent, whole int32) float64 {
	if p != nil {
		return p.Value
	}
	return float64(max(whole, 0))
}

// cors is Istio's CORS translation; allowOrigin (deprecated) lists exact origins, read only
// without allowOrigins.
func (b *builder) cors(d *schema.Document, path string, in *schema.CorsPolicy) *ir.CORS {
	out := &ir.CORS{
		AllowMethods:     in.AllowMethods,
		AllowHeaders:     in.AllowHeaders,
		ExposeHeaders:    in.ExposeHeaders,
		AllowCredentials: in.AllowCredentials,
	}
	for _, o := range in.AllowOrigins {
		out.AllowOrigins = append(out.AllowOrigins, stringMatch(o))
	}
	if in.AllowOrigins == nil {
		for _, o := range in.AllowOrigin {
			out.AllowOrigins = append(out.AllowOrigins, ir.StringMatch{Kind: ir.MatchExact, Value: o})
		}
	}
	if in.MaxAge != "" {
		out.MaxAge = b.duration(d, path+".maxAge", in.MaxAge)
	}
	if in.UnmatchedPreflights == "IGNORE" {
		out.IgnoreUnmatchedPreflights = true
	}
	return out
}

// duration reads an Istio duration the schema already checked; a bad one is still positioned.
func (b *builder) duration(d *schema.Document, path, s string) ir.Duration {
	v, err := schema.ParseDuration(s)
	if err != nil {
		b.errorf(d, path, "%v", err)
		return 0
	}
	return ir.Duration(v)
}
