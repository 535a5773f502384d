package compiler

import (
	"cmp"
	"maps"
	"sync"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
)

// roleScopes is what a role needs to serve each proxy the cluster variants of its namespace
// (a DestinationRule exported to some namespaces only: ir.Cluster.For), read once from its
// clusters.
type roleScopes struct {
	once sync.Once
	// scopes are the namespaces each cluster (by index) is for, nil for every proxy; nil
	// when no cluster is a variant, the common case, which costs nothing more per place.
	scopes []*ir.NamespaceScope
	// stripped are the variants (by index) without their scope, as proxies are served them:
	// made once, so every namespace served a variant shares its proto.
	stripped []types.Resource
	err      error
}

func (r *Role) clusterScopes() *roleScopes {
	r.scopes.once.Do(func() {
		rs := &r.scopes
		list := r.Resources[resource.ClusterType]
		for i, res := range list {
			c, ok := res.(*cluster.Cluster)
			if !ok || !xds.HasScope(c) {
				continue
			}
			s, err := xds.ClusterScope(c)
			if err != nil {
				rs.err = err
				return
			}
			if rs.scopes == nil {
				rs.scopes = make([]*ir.NamespaceScope, len(list))
				rs.stripped = make([]types.Resource, len(list))
			}
			rs.scopes[i], rs.stripped[i] = s, withoutScope(c)
		}
	})
	return &r.scopes
}

// chosenFor names the variants a proxy in namespace ns is served: one byte per variant, so
// namespaces served the same clusters (every namespace no rule names, say) share one key.
func (rs *roleScopes) chosenFor(ns string) string {
	b := make([]byte, 0, len(rs.scopes))
	for _, scope := range rs.scopes {
		switch {
		case scope == nil:
		case scope.Has(ns):
			b = append(b, '1')
		default:
			b = append(b, '0')
		}
	}
	return string(b)
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
		if rs.scopes[i] != nil {
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
		Place: "clusters=" + chosen, fileTypes: r.fileTypes}
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

// withoutScope is a cluster variant without the namespaces it is for, which only the
// publisher reads; the rest of its metadata (its locality policy) stays.
func withoutScope(c *cluster.Cluster) *cluster.Cluster {
	out := shallowCopyWithout(c, "metadata").(*cluster.Cluster)
	out.Metadata = metadataWithout(c.GetMetadata(), xds.ForField)
	return out
}
