package compiler

import (
	"maps"
	"slices"
	"strings"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
)

// roleSources is what a role needs to serve each proxy the routes that apply to it
// (sourceLabels, sourceNamespace), read once from its route tables.
type roleSources struct {
	once sync.Once
	// conditional: some route carries a source condition.
	conditional bool
	// labels are the proxy labels the conditions test, sorted; namespace: some condition
	// tests the proxy's namespace. A place key holds only these.
	labels    []string
	namespace bool
	// conditions are the conditional routes' conditions, decoded once rather than per place.
	conditions map[*route.Route]*ir.Source
	// sidecars holds the role's Sidecar resources (its listeners' ir.Listener.Sidecars), to
	// choose each proxy's: by namespace, those with a workloadSelector first (by name), then
	// the one without; rootSidecar is the root namespace's without selector.
	sidecars    map[string][]ir.SidecarScope
	rootSidecar string
	err         error
}

func (r *Role) sourceConditions() *roleSources {
	r.sources.once.Do(func() {
		rs := &r.sources
		if rs.err = rs.readSidecars(r.Resources[resource.ListenerType]); rs.err != nil {
			return
		}
		for _, res := range r.Resources[resource.RouteType] {
			rc, ok := res.(*route.RouteConfiguration)
			if !ok {
				continue
			}
			for _, vh := range rc.GetVirtualHosts() {
				for _, rt := range vh.GetRoutes() {
					s, err := xds.RouteSource(rt)
					if err != nil {
						rs.err = err
						return
					}
					if s == nil {
						continue
					}
					if rs.conditions == nil {
						rs.conditions = map[*route.Route]*ir.Source{}
					}
					rs.conditions[rt] = s
					rs.conditional = true
					for k := range s.Labels {
						if !slices.Contains(rs.labels, k) {
							rs.labels = append(rs.labels, k)
						}
					}
					rs.namespace = rs.namespace || s.Namespace != "" || s.Namespaces != nil
				}
			}
		}
		slices.Sort(rs.labels)
	})
	return &r.sources
}

// readSidecars reads the Sidecars of the first listener that carries them (every listener of
// a role carries the same).
func (rs *roleSources) readSidecars(listeners []types.Resource) error {
	for _, res := range listeners {
		l, ok := res.(*listener.Listener)
		if !ok {
			continue
		}
		scopes, err := xds.ListenerSidecars(l)
		if err != nil || scopes == nil {
			if err != nil {
				return err
			}
			continue
		}
		rs.sidecars = map[string][]ir.SidecarScope{}
		for _, sc := range scopes {
			rs.sidecars[sc.Namespace] = append(rs.sidecars[sc.Namespace], sc)
			if sc.Namespace == rootNamespace && !sc.Selected {
				rs.rootSidecar = sc.Name
			}
		}
		for _, list := range rs.sidecars {
			slices.SortStableFunc(list, func(a, b ir.SidecarScope) int {
				if a.Selected != b.Selected {
					if a.Selected {
						return -1
					}
					return 1
				}
				return strings.Compare(a.Name, b.Name)
			})
		}
		rs.namespace = true
		return nil
	}
	return nil
}

// chooseSidecar is the Sidecar that applies to a proxy at place, as Istio chooses it: the
// first (by name) of its namespace's whose workloadSelector its labels carry, else its
// namespace's without selector, else the root namespace's without selector; "" for none.
func (rs *roleSources) chooseSidecar(place Place) string {
	for _, sc := range rs.sidecars[place.Namespace] {
		if !sc.Selected || selects(sc.Selector, place.Labels) {
			return sc.Name
		}
	}
	return rs.rootSidecar
}

// proxyPlace is a proxy's place with the Sidecar chosen for it: sidecarAt is
// "namespace/name@proxy-namespace", as routes name the root Sidecar for one namespace.
type proxyPlace struct {
	Place
	sidecar, sidecarAt string
}

// at is the place with its Sidecar chosen.
func (rs *roleSources) at(place Place) proxyPlace {
	p := proxyPlace{Place: place}
	if rs.sidecars != nil {
		p.sidecar = rs.chooseSidecar(place)
		if p.sidecar != "" {
			p.sidecarAt = p.sidecar + "@" + place.Namespace
		}
	}
	return p
}

// sourceKey names what a role's routes depend on for a proxy: the values of the labels its
// conditions test (absent and empty told apart), if they test it the namespace, and the
// Sidecar chosen for it.
func (rs *roleSources) sourceKey(place proxyPlace) string {
	var b strings.Builder
	for _, k := range rs.labels {
		b.WriteByte(0)
		if v, ok := place.Labels[k]; ok {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	if rs.namespace {
		b.WriteByte(0)
		b.WriteString(place.Namespace)
	}
	if rs.sidecars != nil {
		b.WriteByte(0)
		b.WriteString(place.sidecar)
	}
	return b.String()
}

// sourceName describes the part of a place a role's routes were chosen for, for logs.
func (rs *roleSources) sourceName(place proxyPlace) string {
	var parts []string
	for _, k := range rs.labels {
		if v, ok := place.Labels[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if rs.namespace && place.Namespace != "" {
		parts = append(parts, "namespace="+place.Namespace)
	}
	if place.sidecar != "" {
		parts = append(parts, "sidecar="+place.sidecar)
	}
	if len(parts) == 0 {
		return "(no source labels)"
	}
	return strings.Join(parts, ",")
}

// applies is Istio's sourceMatchHTTP for a match block without gateways: every label of the
// condition carried by the proxy, and its namespace if the condition names one; and the
// VirtualService exported to the proxy's namespace; and the proxy's Sidecar (or, without one,
// "") among those whose proxies see the route.
func applies(s *ir.Source, place proxyPlace) bool {
	if s.Sidecars != nil && !slices.Contains(s.Sidecars, place.sidecar) &&
		(place.sidecarAt == "" || !slices.Contains(s.Sidecars, place.sidecarAt)) {
		return false
	}
	for k, v := range s.Labels {
		if pv, ok := place.Labels[k]; !ok || pv != v {
			return false
		}
	}
	return s.InNamespace(place.Namespace)
}

// chooseRoutes is r with only the routes that apply to a proxy at place, their conditions
// taken off: a route table without conditional routes is shared with r, and the route
// version is a digest of what the proxy is served.
func chooseRoutes(r *Role, conditions map[*route.Route]*ir.Source, place proxyPlace, c *localities) (*Role, error) {
	var list []types.Resource
	for i, res := range r.Resources[resource.RouteType] {
		rc, ok := res.(*route.RouteConfiguration)
		if !ok {
			continue
		}
		chosen := chooseTable(rc, conditions, place)
		if chosen == rc {
			continue
		}
		if list == nil {
			list = slices.Clone(r.Resources[resource.RouteType])
		}
		list[i] = chosen
	}
	if list == nil {
		return r, nil
	}
	v, err := c.versionOf(list, r.Resources[resource.RouteType])
	if err != nil {
		return nil, err
	}
	out := &Role{Name: r.Name, Selector: r.Selector, Resources: maps.Clone(r.Resources), Versions: maps.Clone(r.Versions),
		Place: r.Place, fileTypes: r.fileTypes}
	out.Resources[resource.RouteType], out.Versions[resource.RouteType] = list, v
	return out, nil
}

// chooseTable returns rc with each virtual host's routes chosen for place, or rc itself when
// none of its routes is conditional.
func chooseTable(rc *route.RouteConfiguration, conditions map[*route.Route]*ir.Source, place proxyPlace) *route.RouteConfiguration {
	var vhosts []*route.VirtualHost
	for i, vh := range rc.GetVirtualHosts() {
		if !slices.ContainsFunc(vh.GetRoutes(), func(rt *route.Route) bool { return conditions[rt] != nil }) {
			continue
		}
		routes := chooseVirtualHostRoutes(vh.GetRoutes(), conditions, place)
		if vhosts == nil {
			vhosts = slices.Clone(rc.GetVirtualHosts())
		}
		nvh := shallowCopyWithout(vh, "routes").(*route.VirtualHost)
		nvh.Routes = routes
		vhosts[i] = nvh
	}
	if vhosts == nil {
		return rc
	}
	out := shallowCopyWithout(rc, "virtual_hosts").(*route.RouteConfiguration)
	out.VirtualHosts = vhosts
	return out
}

// chooseVirtualHostRoutes keeps the routes for every proxy and those whose condition the
// proxy meets; the fallback route only when nothing else is left, as Istio then routes the
// service as if no VirtualService named it (and only for a proxy that sees the service: its
// condition names the namespaces of the service's exportTo).
func chooseVirtualHostRoutes(routes []*route.Route, conditions map[*route.Route]*ir.Source, place proxyPlace) []*route.Route {
	kept := routesApplying(routes, conditions, place)
	for i, rt := range kept {
		if conditions[rt] != nil {
			kept[i] = withoutSource(rt)
		}
	}
	return kept
}

// routesApplying is the routes of a virtual host a proxy at place is served, as compiled (with
// their conditions): those for every proxy and those whose condition it meets, the fallback
// only when nothing else is left.
func routesApplying(routes []*route.Route, conditions map[*route.Route]*ir.Source, place proxyPlace) []*route.Route {
	kept := make([]*route.Route, 0, len(routes))
	var fallback *route.Route
	for _, rt := range routes {
		s := conditions[rt]
		switch {
		case s == nil:
			kept = append(kept, rt)
		case s.Fallback:
			if applies(s, place) {
				fallback = rt
			}
		case applies(s, place):
			kept = append(kept, rt)
		}
	}
	if len(kept) == 0 && fallback != nil {
		kept = append(kept, fallback)
	}
	return kept
}

// withoutSource is rt without its source condition, which only the publisher reads.
func withoutSource(rt *route.Route) *route.Route {
	out := shallowCopyWithout(rt, "metadata").(*route.Route)
	out.Metadata = metadataWithout(rt.GetMetadata(), xds.SourceField)
	return out
}

// metadataWithout is md without some fields of signalbox's own filter metadata (conditions only
// the publisher reads), the rest kept; nil when nothing is left.
func metadataWithout(md *core.Metadata, fields ...string) *core.Metadata {
	kept := maps.Clone(md.GetFilterMetadata()[xds.MetadataKey].GetFields())
	for _, f := range fields {
		delete(kept, f)
	}
	filters := maps.Clone(md.GetFilterMetadata())
	if len(kept) > 0 {
		filters[xds.MetadataKey] = &structpb.Struct{Fields: kept}
	} else {
		delete(filters, xds.MetadataKey)
	}
	if len(filters) == 0 && len(md.GetTypedFilterMetadata()) == 0 {
		return nil
	}
	return &core.Metadata{FilterMetadata: filters, TypedFilterMetadata: md.GetTypedFilterMetadata()}
}

// shallowCopyWithout copies every field of m but one into a new message of its type, sharing
// sub-messages: the protos of a compiled snapshot are never changed once built.
func shallowCopyWithout(m proto.Message, field protoreflect.Name) proto.Message {
	src := m.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Name() != field {
			dst.Set(fd, v)
		}
		return true
	})
	return dst.Interface()
}
