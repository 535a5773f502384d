package xds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// SourceField names the entry under MetadataKey where a route keeps which proxies it is for
// (ir.Source). The publisher resolves it per proxy and serves routes without it, so no proxy
// ever has to interpret it.
const SourceField = "source"

// sourceMetadata records a route's source condition.
func sourceMetadata(s *ir.Source) (*core.Metadata, error) {
	v, err := toValue(s)
	if err != nil {
		return nil, err
	}
	return &core.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataKey: {Fields: map[string]*structpb.Value{SourceField: v}},
	}}, nil
}

// RouteSource reads back the source condition a route carries, nil when it is for every
// proxy.
func RouteSource(r *route.Route) (*ir.Source, error) {
	v := r.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[SourceField]
	if v == nil {
		return nil, nil
	}
	var s ir.Source
	if err := fromValue(v, &s); err != nil {
		return nil, fmt.Errorf("route %s: %s.%s: %w", r.GetName(), MetadataKey, SourceField, err)
	}
	return &s, nil
}

// HasSource reports whether a route carries a source condition, without decoding it.
func HasSource(r *route.Route) bool {
	return r.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[SourceField] != nil
}
