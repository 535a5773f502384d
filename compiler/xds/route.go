package xds

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// RouteConfiguration builds the route table of one listener.
func RouteConfiguration(l *ir.Listener) (*route.RouteConfiguration, error) {
	rc := &route.RouteConfiguration{Name: l.RouteName}
	for _, vh := range l.VirtualHosts {
		v := &route.VirtualHost{Name: vh.Name, Domains: vh.Domains}
		for _, r := range vh.Routes {
			v.Routes = append(v.Routes, Route(r))
		}
		rc.VirtualHosts = append(rc.VirtualHosts, v)
	}
	return validated(rc)
}

// Route builds one route: its match and a cluster or weighted-cluster action.
func Route(r *ir.Route) *route.Route {
	action := &route.RouteAction{}
	if len(r.Clusters) == 1 {
		action.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: r.Clusters[0].Name}
	} else {
		wc := &route.WeightedCluster{}
		for _, c := range r.Clusters {
			wc.Clusters = append(wc.Clusters, &route.WeightedCluster_ClusterWeight{Name: c.Name, Weight: wrapperspb.UInt32(c.Weight)})
		}
		action.ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: wc}
	}
	return &route.Route{
		Name:   r.Name,
		Match:  routeMatch(r.Match),
		Action: &route.Route_Route{Route: action},
	}
}

func routeMatch(m ir.Match) *route.RouteMatch {
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
	for _, h := range m.Headers {
		rm.Headers = append(rm.Headers, &route.HeaderMatcher{
			Name:                 h.Name,
			HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: stringMatcher(h.Match)},
		})
	}
	return rm
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
