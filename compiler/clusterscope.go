package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
)

// roleScopes is what a role needs to serve each proxy the clusters of its place, read once
// from its clusters: the variants of its namespace (a DestinationRule exported to some
// namespaces only: ir.Cluster.For) and only the clusters of the services it sees
// (ir.Cluster.Visible: ServiceEntry exportTo, Sidecar egress hosts), with what its routes and
// listeners name.
type roleScopes struct {
	once sync.Once
	// scopes are the namespaces each cluster (by index) is for, nil for every proxy; visible
	// the proxies that see its service, nil for every proxy. Both nil when no cluster has
	// either, the common case, which costs nothing more per place.
	scopes  []*ir.NamespaceScope
	visible []*ir.Source
	// stripped are those clusters (by index) without their scope and visibility, as proxies
	// are served them: made once, so every place served one shares its proto.
	stripped []types.Resource
	// named are the clusters every proxy of the role is served whatever it sees: those its
	// listeners name (a TCP proxy, a passthrough chain, a JWKS fetch) and its routes for every
	// proxy. routeRefs are the clusters each conditional route names, and condHosts the route
	// lists (virtual hosts) that have conditional routes: a proxy is served the clusters of the
	// routes it is served, so no route it has names a cluster it lacks. Read only when some
	// cluster is visible to some proxies only.
	named     map[string]bool
	routeRefs map[*route.Route][]string
	condHosts [][]*route.Route
	err       error
}

func (r *Role) clusterScopes() *roleScopes {
	r.scopes.once.Do(func() {
		rs := &r.scopes
		list := r.Resources[resource.ClusterType]
		for i, res := range list {
			c, ok := res.(*cluster.Cluster)
			if !ok || !xds.HasScope(c) && !xds.HasVisible(c) {
				continue
			}
			s, err := xds.ClusterScope(c)
			if err != nil {
				rs.err = err
				return
			}
			v, err := xds.ClusterVisible(c)
			if err != nil {
				rs.err = err
				return
			}
			if rs.scopes == nil {
				rs.scopes = make([]*ir.NamespaceScope, len(list))
				rs.visible = make([]*ir.Source, len(list))
				rs.stripped = make([]types.Resource, len(list))
			}
			rs.scopes[i], rs.visible[i], rs.stripped[i] = s, v, withoutScope(c)
		}
		if slices.ContainsFunc(rs.visible, func(v *ir.Source) bool { return v != nil }) {
			rs.readRefs(r)
		}
	})
	return &r.scopes
}

// scoped reports whether cluster i is chosen per place.
func (rs *roleScopes) scoped(i int) bool {
	return rs.scopes[i] != nil || rs.visible[i] != nil
}

// readRefs reads which clusters the role's listeners and routes name.
func (rs *roleScopes) readRefs(r *Role) {
	rs.named, rs.routeRefs = map[string]bool{}, map[*route.Route][]string{}
	for _, res := range r.Resources[resource.ListenerType] {
		xds.ClusterRefs(res, func(name string) { rs.named[name] = true })
	}
	for _, res := range r.Resources[resource.RouteType] {
		rc, ok := res.(*route.RouteConfiguration)
		if !ok {
			continue
		}
		for _, vh := range rc.GetVirtualHosts() {
			conditional := false
			for _, rt := range vh.GetRoutes() {
				if !xds.HasSource(rt) {
					xds.ClusterRefs(rt, func(name string) { rs.named[name] = true })
					continue
				}
				conditional = true
				var names []string
				xds.ClusterRefs(rt, func(name string) { names = append(names, name) })
				rs.routeRefs[rt] = names
			}
			if conditional {
				rs.condHosts = append(rs.condHosts, vh.GetRoutes())
			}
		}
	}
}

// chosenFor names the clusters a proxy at place is served among those chosen per place, one
// byte each ('1' served), so places served the same clusters share one key: the variant of
// its namespace, of a service it sees or that a route or listener it is served names.
// conditions are the role's route conditions (roleSources).
func (rs *roleScopes) chosenFor(r *Role, place proxyPlace, conditions map[*route.Route]*ir.Source) string {
	list := r.Resources[resource.ClusterType]
	var routed map[string]bool
	b := make([]byte, 0, len(rs.scopes))
	for i := range rs.scopes {
		if !rs.scoped(i) {
			continue
		}
		in := rs.scopes[i].Has(place.Namespace)
		if in && rs.visible[i] != nil && !applies(rs.visible[i], place) {
			name := cache.GetResourceName(list[i])
			if routed == nil {
				routed = rs.routedAt(place, conditions)
			}
			in = rs.named[name] || routed[name]
		}
		if in {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
	}
	return string(b)
}

// routedAt is the clusters named by the conditional routes a proxy at place is served
// (chooseVirtualHostRoutes keeps the same ones).
func (rs *roleScopes) routedAt(place proxyPlace, conditions map[*route.Route]*ir.Source) map[string]bool {
	out := map[string]bool{}
	for _, routes := range rs.condHosts {
		for _, rt := range routesApplying(routes, conditions, place) {
			for _, name := range rs.routeRefs[rt] {
				out[name] = true
			}
		}
	}
	return out
}

// clustersFor is r with the cluster variants chosen (chosenFor), their scope taken off, and
// the endpoints of those clusters: a variant's endpoints are the assignment of its name that
// comes in the same place among that name's (FromIR emits them in the clusters' order).
// Cached in the snapshot's cache of localised roles.
func (s *Snapshot) clustersFor(r *Role, rs *roleScopes, chosen string) (*Role, error) {
	c := s.local
	key := "\x01clusters\x00" + r.Name + "\x00" + chosen
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if cr, ok := c.roles[key]; ok {
			return cr, nil
		}
	}
	clusters := r.Resources[resource.ClusterType]
	kept := make([]types.Resource, 0, len(clusters))
	// keptEDS is, by endpoints name, whether each EDS cluster of that name (in order) is kept.
	keptEDS := map[string][]bool{}
	j := 0
	for i, res := range clusters {
		in := true
		if rs.scoped(i) {
			in = chosen[j] == '1'
			j++
		}
		if cl, ok := res.(*cluster.Cluster); ok && cl.GetEdsClusterConfig() != nil {
			name := cmp.Or(cl.GetEdsClusterConfig().GetServiceName(), cl.GetName())
			keptEDS[name] = append(keptEDS[name], in)
		}
		if !in {
			continue
		}
		if rs.stripped[i] != nil {
			res = rs.stripped[i]
		}
		kept = append(kept, res)
	}
	var endpoints []types.Resource
	seen := map[string]int{}
	for _, res := range r.Resources[resource.EndpointType] {
		cla, ok := res.(*endpoint.ClusterLoadAssignment)
		if !ok {
			endpoints = append(endpoints, res)
			continue
		}
		name := cla.GetClusterName()
		k := seen[name]
		seen[name]++
		if flags := keptEDS[name]; k < len(flags) && !flags[k] {
			continue
		}
		endpoints = append(endpoints, res)
	}
	out := &Role{Name: r.Name, Selector: r.Selector, Resources: maps.Clone(r.Resources), Versions: maps.Clone(r.Versions),
		Place: fmt.Sprintf("clusters=%d/%d", len(kept), len(clusters)), fileTypes: r.fileTypes}
	for _, t := range []struct {
		typ  resource.Type
		list []types.Resource
	}{{resource.ClusterType, kept}, {resource.EndpointType, endpoints}} {
		v, err := c.versionOf(t.list, r.Resources[t.typ])
		if err != nil {
			return nil, err
		}
		out.Resources[t.typ], out.Versions[t.typ] = t.list, v
	}
	if c != nil {
		if c.roles == nil || len(c.roles) >= maxPlaces {
			c.roles = map[string]*Role{}
		}
		c.roles[key] = out
	}
	return out, nil
}

// withoutScope is a cluster without the namespaces it is for and the proxies that see it, which
// only the publisher reads; the rest of its metadata (its locality policy) stays.
func withoutScope(c *cluster.Cluster) *cluster.Cluster {
	out := shallowCopyWithout(c, "metadata").(*cluster.Cluster)
	out.Metadata = metadataWithout(c.GetMetadata(), xds.ForField, xds.VisibleField)
	return out
}
