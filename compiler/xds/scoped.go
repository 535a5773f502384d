package xds

import (
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// ScopedRoute builds the scope that sends requests whose :authority host part is key to the
// RouteConfiguration routeName (see routeSpecifier). Scopes are named "<scoped routes>/<key>",
// so a scope's name says which host it serves.
func ScopedRoute(scopedRoutes, key, routeName string) (*route.ScopedRouteConfiguration, error) {
	return validated(&route.ScopedRouteConfiguration{
		Name:                   scopedRoutes + "/" + key,
		RouteConfigurationName: routeName,
		Key: &route.ScopedRouteConfiguration_Key{Fragments: []*route.ScopedRouteConfiguration_Key_Fragment{{
			Type: &route.ScopedRouteConfiguration_Key_Fragment_StringKey{StringKey: key},
		}}},
	})
}
