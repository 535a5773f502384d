package xds

import (
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// jwtFilterName is Envoy's JWT filter, also the namespace of the dynamic metadata where it
// stores verified payloads (read by RBAC metadata matchers).
const jwtFilterName = "envoy.filters.http.jwt_authn"

// jwtFilter builds the jwt_authn filter of a listener's authentication: one provider per jwtRule,
// each storing a verified payload in the metadata under its issuer, and one rule for every path
// that requires any provider or no token at all. So a request without a token passes (Istio's
// semantics: AuthorizationPolicy decides), one with a token no provider verifies is refused.
// Never optional: a proxy that cannot verify tokens must refuse the listener.
func jwtFilter(a *ir.Authentication) (*hcm.HttpFilter, error) {
	if a == nil || len(a.Providers) == 0 {
		return nil, nil
	}
	cfg := &jwt.JwtAuthentication{Providers: map[string]*jwt.JwtProvider{}}
	var requires []*jwt.JwtRequirement
	for _, p := range a.Providers {
		provider := &jwt.JwtProvider{
			Issuer:               p.Issuer,
			Audiences:            p.Audiences,
			FromParams:           p.FromParams,
			Forward:              p.Forward,
			ForwardPayloadHeader: p.ForwardPayloadHeader,
			PayloadInMetadata:    p.Issuer,
		}
		setJWKS(provider, p)
		for _, h := range p.FromHeaders {
			provider.FromHeaders = append(provider.FromHeaders, &jwt.JwtHeader{Name: h.Name, ValuePrefix: h.Prefix})
		}
		cfg.Providers[p.Name] = provider
		requires = append(requires, &jwt.JwtRequirement{RequiresType: &jwt.JwtRequirement_ProviderName{ProviderName: p.Name}})
	}
	requires = append(requires, &jwt.JwtRequirement{RequiresType: &jwt.JwtRequirement_AllowMissing{AllowMissing: &emptypb.Empty{}}})
	cfg.Rules = []*jwt.RequirementRule{{
		Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
		RequirementType: &jwt.RequirementRule_Requires{Requires: &jwt.JwtRequirement{
			RequiresType: &jwt.JwtRequirement_RequiresAny{RequiresAny: &jwt.JwtRequirementOrList{Requirements: requires}}}},
	}}
	packed, err := pack(cfg)
	if err != nil {
		return nil, err
	}
	return &hcm.HttpFilter{Name: jwtFilterName, ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: packed}}, nil
}

// setJWKS gives a provider its key set: inline (local_jwks), or fetched by the proxy through a
// cluster (remote_jwks) in the shape Istio gives it, without async_fetch or retry_policy: the
// keys are fetched when a token first needs them and again once the cache duration has passed.
func setJWKS(provider *jwt.JwtProvider, p *ir.JWTProvider) {
	if r := p.RemoteJWKS; r != nil {
		provider.JwksSourceSpecifier = &jwt.JwtProvider_RemoteJwks{RemoteJwks: &jwt.RemoteJwks{
			HttpUri: &core.HttpUri{
				Uri:              r.URI,
				HttpUpstreamType: &core.HttpUri_Cluster{Cluster: r.Cluster},
				Timeout:          durationpb.New(time.Duration(r.Timeout)),
			},
			CacheDuration: durationpb.New(time.Duration(r.CacheDuration)),
		}}
		return
	}
	provider.JwksSourceSpecifier = &jwt.JwtProvider_LocalJwks{LocalJwks: &core.DataSource{
		Specifier: &core.DataSource_InlineString{InlineString: p.JWKS}}}
}

// claimMatcher matches one claim of a verified payload: the filter's metadata, the issuer's
// payload, the claim's path in it.
func claimMatcher(c ir.RBACClaim) *matcher.MetadataMatcher {
	path := []*matcher.MetadataMatcher_PathSegment{{Segment: &matcher.MetadataMatcher_PathSegment_Key{Key: c.Issuer}}}
	for _, k := range c.Path {
		path = append(path, &matcher.MetadataMatcher_PathSegment{Segment: &matcher.MetadataMatcher_PathSegment_Key{Key: k}})
	}
	var value *matcher.ValueMatcher
	switch {
	case c.Kind == ir.MatchPresent:
		value = &matcher.ValueMatcher{MatchPattern: &matcher.ValueMatcher_PresentMatch{PresentMatch: true}}
	case c.List:
		value = &matcher.ValueMatcher{MatchPattern: &matcher.ValueMatcher_ListMatch{ListMatch: &matcher.ListMatcher{
			MatchPattern: &matcher.ListMatcher_OneOf{OneOf: &matcher.ValueMatcher{
				MatchPattern: &matcher.ValueMatcher_StringMatch{StringMatch: rbacString(ir.RBACValue{Kind: c.Kind, Value: c.Value})}}}}}}
	default:
		value = &matcher.ValueMatcher{MatchPattern: &matcher.ValueMatcher_StringMatch{
			StringMatch: rbacString(ir.RBACValue{Kind: c.Kind, Value: c.Value})}}
	}
	return &matcher.MetadataMatcher{Filter: jwtFilterName, Path: path, Value: value}
}
