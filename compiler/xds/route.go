package xds

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// RouteConfigurationOf assembles a route table from virtual hosts already built and validated
// by VirtualHost, so a virtual host shared by several tables is built and checked once.
func RouteConfigurationOf(name string, vhosts []*route.VirtualHost) (*route.RouteConfiguration, error) {
	if _, err := validated(&route.RouteConfiguration{Name: name}); err != nil {
		return nil, err
	}
	return &route.RouteConfiguration{Name: name, VirtualHosts: vhosts}, nil
}

// VirtualHost builds one virtual host and its routes, in order, for Envoy or, with proxyless,
// for proxyless gRPC clients (ir.Listener.Proxyless).
func VirtualHost(vh *ir.VirtualHost, proxyless bool) (*route.VirtualHost, error) {
	v := &route.VirtualHost{Name: vh.Name, Domains: vh.Domains}
	if !proxyless && !vh.NoAttemptCount {
		// Istio has its sidecars and gateways tell upstreams which attempt a request is
		// (x-envoy-attempt-count) unless proxyHeaders turns it off; gRPC clients have no
		// such field.
		v.IncludeRequestAttemptCount = true
	}
	if vh.RequireTLS {
		v.RequireTls = route.VirtualHost_ALL
	}
	for _, r := range vh.Routes {
		xr, err := Route(r, proxyless)
		if err != nil {
			return nil, err
		}
		v.Routes = append(v.Routes, xr)
	}
	return validated(v)
}

// Route builds one route: its match, its action (forward, redirect or direct response), its
// header operations and its per-route filter configuration.
func Route(r *ir.Route, proxyless bool) (*route.Route, error) {
	out := &route.Route{
		Name:                    r.Name,
		Match:                   routeMatch(r.Match, proxyless),
		RequestHeadersToAdd:     headerOptions(r.RequestHeaders),
		RequestHeadersToRemove:  r.RequestHeaders.Remove,
		ResponseHeadersToAdd:    headerOptions(r.ResponseHeaders),
		ResponseHeadersToRemove: r.ResponseHeaders.Remove,
	}
	switch {
	case r.Redirect != nil:
		out.Action = &route.Route_Redirect{Redirect: redirectAction(r.Redirect)}
	case r.DirectResponse != nil:
		out.Action = &route.Route_DirectResponse{DirectResponse: directResponse(r.DirectResponse)}
	default:
		out.Action = &route.Route_Route{Route: routeAction(r, proxyless)}
	}
	perFilter := map[string]*anypb.Any{}
	if r.Fault != nil {
		f, err := pack(httpFault(r.Fault))
		if err != nil {
			return nil, err
		}
		perFilter[faultFilterName] = f
	}
	if r.CORS != nil {
		c, err := pack(corsPolicy(r.CORS))
		if err != nil {
			return nil, err
		}
		perFilter[corsFilterName] = c
	}
	if len(perFilter) > 0 {
		out.TypedPerFilterConfig = perFilter
	}
	if r.Source != nil {
		m, err := sourceMetadata(r.Source)
		if err != nil {
			return nil, err
		}
		out.Metadata = m
	}
	return out, nil
}

func routeMatch(m ir.Match, legacy bool) *route.RouteMatch {
	rm := &route.RouteMatch{}
	switch m.Path.Kind {
	case ir.MatchExact:
		rm.PathSpecifier = &route.RouteMatch_Path{Path: m.Path.Value}
	case ir.MatchRegex:
		rm.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: m.Path.Value}}
	case ir.MatchPrefix:
		rm.PathSpecifier = &route.RouteMatch_Prefix{Prefix: m.Path.Value}
	default:
		rm.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/"}
	}
	// Istio always says whether the path match is case sensitive.
	rm.CaseSensitive = wrapperspb.Bool(!m.IgnoreCase)
	for _, h := range m.Headers {
		hm := &route.HeaderMatcher{Name: h.Name, InvertMatch: h.Invert}
		if h.Match.Kind == ir.MatchPresent {
			hm.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
		} else {
			setHeaderMatch(hm, h.Match, legacy)
			// A request without the header does not carry the forbidden value.
			hm.TreatMissingHeaderAsEmpty = h.Invert
		}
		rm.Headers = append(rm.Headers, hm)
	}
	for _, q := range m.QueryParams {
		qm := &route.QueryParameterMatcher{Name: q.Name}
		if q.Match.Kind == ir.MatchPresent {
			qm.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		} else {
			qm.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: stringMatcher(q.Match)}
		}
		rm.QueryParameters = append(rm.QueryParameters, qm)
	}
	return rm
}

// setHeaderMatch writes a header's string match in Istio's form (string_match) or the older
// one-field-per-kind form that older gRPC clients read.
func setHeaderMatch(hm *route.HeaderMatcher, s ir.StringMatch, legacy bool) {
	if !legacy {
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: stringMatcher(s)}
		return
	}
	switch s.Kind {
	case ir.MatchExact:
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_ExactMatch{ExactMatch: s.Value}
	case ir.MatchRegex:
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcher.RegexMatcher{Regex: s.Value}}
	default:
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_PrefixMatch{PrefixMatch: s.Value}
	}
}

func stringMatcher(s ir.StringMatch) *matcher.StringMatcher {
	switch s.Kind {
	case ir.MatchExact:
		return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: s.Value}}
	case ir.MatchRegex:
		return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: s.Value}}}
	default:
		return &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: s.Value}}
	}
}
