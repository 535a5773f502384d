package xds

import (
	"sync/atomic"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	xdstype "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// previousHostsName is Envoy's retry host predicate that avoids hosts already tried.
const previousHostsName = "envoy.retry_host_predicates.previous_hosts"

// previousHostsConfig is packed once: it is empty and the same in every route.
var previousHostsConfig = mustPack(&previoushosts.PreviousHostsPredicate{})

// routeAction sets the timeout as Istio does: for Envoy, max_grpc_timeout follows it (0 lets a
// gRPC client's grpc-timeout header stand unbounded); proxyless gRPC clients read only
// max_stream_duration.
func routeAction(r *ir.Route, proxyless bool) *route.RouteAction {
	action := &route.RouteAction{Timeout: duration(r.Timeout)}
	if proxyless {
		action.MaxStreamDuration = &route.RouteAction_MaxStreamDuration{MaxStreamDuration: duration(r.Timeout)}
	} else {
		action.MaxGrpcTimeout = duration(r.Timeout)
	}
	if len(r.Clusters) == 1 && r.Clusters[0].RequestHeaders.Empty() && r.Clusters[0].ResponseHeaders.Empty() {
		action.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: r.Clusters[0].Name}
	} else {
		wc := &route.WeightedCluster{}
		for _, c := range r.Clusters {
			cw := &route.WeightedCluster_ClusterWeight{
				Name:                    c.Name,
				Weight:                  wrapperspb.UInt32(c.Weight),
				RequestHeadersToAdd:     headerOptions(c.RequestHeaders),
				RequestHeadersToRemove:  c.RequestHeaders.Remove,
				ResponseHeadersToAdd:    headerOptions(c.ResponseHeaders),
				ResponseHeadersToRemove: c.ResponseHeaders.Remove,
			}
			if c.HostRewrite != "" {
				cw.HostRewriteSpecifier = &route.WeightedCluster_ClusterWeight_HostRewriteLiteral{HostRewriteLiteral: c.HostRewrite}
			}
			wc.Clusters = append(wc.Clusters, cw)
		}
		action.ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	if rw := r.Rewrite; rw != nil {
		action.PrefixRewrite = rw.Prefix
		if rw.RegexMatch != "" {
			action.RegexRewrite = &matcher.RegexMatchAndSubstitute{
				Pattern:      &matcher.RegexMatcher{Regex: rw.RegexMatch},
				Substitution: rw.RegexSubstitution,
			}
		}
		if rw.Authority != "" {
			action.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Authority}
		}
	}
	if r.Retry != nil {
		action.RetryPolicy = retryPolicy(r.Retry)
	}
	for _, m := range r.Mirrors {
		action.RequestMirrorPolicies = append(action.RequestMirrorPolicies, &route.RouteAction_RequestMirrorPolicy{
			Cluster:         m.Cluster,
			RuntimeFraction: &core.RuntimeFractionalPercent{DefaultValue: fractionalPercent(m.Percent)},
			TraceSampled:    wrapperspb.Bool(false),
		})
	}
	for _, h := range r.Hash {
		action.HashPolicy = append(action.HashPolicy, hashPolicy(h))
	}
	return action
}

func hashPolicy(h ir.HashPolicy) *route.RouteAction_HashPolicy {
	hp := &route.RouteAction_HashPolicy{}
	switch {
	case h.Header != "":
		hp.PolicySpecifier = &route.RouteAction_HashPolicy_Header_{Header: &route.RouteAction_HashPolicy_Header{HeaderName: h.Header}}
	case h.Cookie != nil:
		c := &route.RouteAction_HashPolicy_Cookie{Name: h.Cookie.Name, Path: h.Cookie.Path}
		if h.Cookie.TTL > 0 {
			c.Ttl = duration(h.Cookie.TTL)
		}
		hp.PolicySpecifier = &route.RouteAction_HashPolicy_Cookie_{Cookie: c}
	case h.SourceIP:
		hp.PolicySpecifier = &route.RouteAction_HashPolicy_ConnectionProperties_{
			ConnectionProperties: &route.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}
	default:
		hp.PolicySpecifier = &route.RouteAction_HashPolicy_QueryParameter_{
			QueryParameter: &route.RouteAction_HashPolicy_QueryParameter{Name: h.QueryParam}}
	}
	return hp
}

// redirectCodes maps HTTP redirect statuses to Envoy's enum (Istio's default is 301).
var redirectCodes = map[uint32]route.RedirectAction_RedirectResponseCode{
	301: route.RedirectAction_MOVED_PERMANENTLY,
	302: route.RedirectAction_FOUND,
	303: route.RedirectAction_SEE_OTHER,
	307: route.RedirectAction_TEMPORARY_REDIRECT,
	308: route.RedirectAction_PERMANENT_REDIRECT,
}

func redirectAction(r *ir.Redirect) *route.RedirectAction {
	out := &route.RedirectAction{HostRedirect: r.Authority, PortRedirect: r.Port, ResponseCode: redirectCodes[r.Code]}
	if r.Scheme != "" {
		out.SchemeRewriteSpecifier = &route.RedirectAction_SchemeRedirect{SchemeRedirect: r.Scheme}
	}
	if r.Path != "" {
		out.PathRewriteSpecifier = &route.RedirectAction_PathRedirect{PathRedirect: r.Path}
	}
	return out
}

func directResponse(d *ir.DirectResponse) *route.DirectResponseAction {
	out := &route.DirectResponseAction{Status: d.Status}
	switch {
	case d.BodyBytes != nil:
		out.Body = &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: d.BodyBytes}}
	case d.Body != "":
		out.Body = &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: d.Body}}
	}
	return out
}

// headerOptions turns Set into OVERWRITE_IF_EXISTS_OR_ADD and Add into APPEND_IF_EXISTS_OR_ADD,
// as Istio does.
func headerOptions(h ir.HeaderOps) []*core.HeaderValueOption {
	var out []*core.HeaderValueOption
	for _, s := range h.Set {
		out = append(out, &core.HeaderValueOption{
			Header:       &core.HeaderValue{Key: s.Name, Value: s.Value},
			AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, a := range h.Add {
		out = append(out, &core.HeaderValueOption{
			Header:       &core.HeaderValue{Key: a.Name, Value: a.Value},
			AppendAction: core.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	return out
}

// fractionalPercent is Istio's translation of a 0–100 percentage: parts per million.
func fractionalPercent(p float64) *xdstype.FractionalPercent {
	return &xdstype.FractionalPercent{Numerator: uint32(p*10000 + 0.5), Denominator: xdstype.FractionalPercent_MILLION}
}

// zero is shared by every route without a timeout (most of them): built protos are immutable.
var zero = durationpb.New(0)

func duration(d ir.Duration) *durationpb.Duration {
	if d == 0 {
		return zero
	}
	return durationpb.New(timeDuration(d))
}

// retryCache remembers the last retry policy built: the compiler shares one IR value for
// Istio's default policy, which most routes carry, so most routes share one proto too.
var retryCache atomic.Pointer[builtRetry]

type builtRetry struct {
	in  *ir.RetryPolicy
	out *route.RetryPolicy
}

func retryPolicy(p *ir.RetryPolicy) *route.RetryPolicy {
	if c := retryCache.Load(); c != nil && c.in == p {
		return c.out
	}
	rp := &route.RetryPolicy{
		RetryOn:                       p.RetryOn,
		NumRetries:                    wrapperspb.UInt32(p.Attempts),
		RetriableStatusCodes:          p.StatusCodes,
		HostSelectionRetryMaxAttempts: p.HostSelectionAttempts,
	}
	if p.PerTryTimeout > 0 {
		rp.PerTryTimeout = duration(p.PerTryTimeout)
	}
	if p.PreviousHosts {
		rp.RetryHostPredicate = []*route.RetryPolicy_RetryHostPredicate{{
			Name:       previousHostsName,
			ConfigType: &route.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: previousHostsConfig},
		}}
	}
	if p.Backoff > 0 {
		rp.RetryBackOff = &route.RetryPolicy_RetryBackOff{BaseInterval: duration(p.Backoff)}
	}
	retryCache.Store(&builtRetry{p, rp})
	return rp
}

func mustPack(m validator) *anypb.Any {
	a, err := pack(m)
	if err != nil {
		panic(err)
	}
	return a
}
