package xds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
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

// SidecarsField names the entry under MetadataKey where a sidecar's listener keeps the Sidecar
// resources (ir.Listener.Sidecars) from which the publisher chooses each proxy's.
const SidecarsField = "sidecars"

// sidecarsMetadata records a listener's Sidecars; nil when there are none.
func sidecarsMetadata(scopes []ir.SidecarScope) (*core.Metadata, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	v, err := toValue(scopes)
	if err != nil {
		return nil, err
	}
	return &core.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataKey: {Fields: map[string]*structpb.Value{SidecarsField: v}},
	}}, nil
}

// ListenerSidecars reads back the Sidecars a listener carries, nil when it has none.
func ListenerSidecars(l *listener.Listener) ([]ir.SidecarScope, error) {
	v := l.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[SidecarsField]
	if v == nil {
		return nil, nil
	}
	var out []ir.SidecarScope
	if err := fromValue(v, &out); err != nil {
		return nil, fmt.Errorf("listener %s: %s.%s: %w", l.GetName(), MetadataKey, SidecarsField, err)
	}
	return out, nil
}
