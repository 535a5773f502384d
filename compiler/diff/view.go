package diff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/compiler/xds"
)

// view is a snapshot decoded into what the comparison keys on.
type view struct {
	version string
	// hosts per role, keyed by route configuration and virtual host name.
	hosts map[string]map[hostKey]*hostView
	// clusters are global: every role that uses a cluster gets the same one.
	clusters  map[string]*clusterView
	listeners map[string]map[string]*listener.Listener
	// versions per role and type: equal digests mean equal resources, so comparing them
	// skips whole resource types that did not change.
	versions map[string]map[resource.Type]string
}

// sameVersion reports whether a role has the same resources of type t on both sides.
func sameVersion(a, b *view, role string, t resource.Type) bool {
	va, okA := a.versions[role]
	vb, okB := b.versions[role]
	return okA && okB && va[t] != "" && va[t] == vb[t]
}

type hostKey struct{ routeConfig, vhost string }

type hostView struct {
	name    string
	domains []string
	routes  []*routeView
	raw     *route.VirtualHost
}

type routeView struct {
	key   string // name, made unique within the host by its occurrence
	name  string
	match *route.RouteMatch
	dests []dest
	raw   *route.Route
}

type dest struct {
	cluster string
	weight  uint32
}

// clusterView is a cluster and its endpoints (from EDS, or inline in the cluster).
type clusterView struct {
	raw *cluster.Cluster
	cla *endpoint.ClusterLoadAssignment
}

func newView(s *compiler.Snapshot) (*view, error) {
	v := &view{version: s.Version, hosts: map[string]map[hostKey]*hostView{},
		clusters: map[string]*clusterView{}, listeners: map[string]map[string]*listener.Listener{},
		versions: map[string]map[resource.Type]string{}}
	for _, r := range s.Roles {
		v.versions[r.Name] = r.Versions
		hosts := map[hostKey]*hostView{}
		v.hosts[r.Name] = hosts
		for _, res := range r.Resources[resource.RouteType] {
			rc, ok := res.(*route.RouteConfiguration)
			if !ok {
				return nil, fmt.Errorf("role %s: route resource is %T", r.Name, res)
			}
			for _, vh := range rc.VirtualHosts {
				hosts[hostKey{rc.Name, vh.Name}] = newHostView(vh)
			}
		}
		ls := map[string]*listener.Listener{}
		v.listeners[r.Name] = ls
		for _, res := range r.Resources[resource.ListenerType] {
			l, ok := res.(*listener.Listener)
			if !ok {
				return nil, fmt.Errorf("role %s: listener resource is %T", r.Name, res)
			}
			ls[l.Name] = l
		}
		// A cluster chosen by proxy namespace (a DestinationRule exported to some namespaces
		// only) has variants of one name: each is keyed by its name and namespaces, and takes
		// the endpoints of its name in the same place among that name's. A lone variant (a
		// subset only the rule's namespaces have) is keyed so too.
		variants := map[string][]string{}
		for _, res := range r.Resources[resource.ClusterType] {
			c, ok := res.(*cluster.Cluster)
			if !ok {
				return nil, fmt.Errorf("role %s: cluster resource is %T", r.Name, res)
			}
			key, err := clusterKey(c)
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", r.Name, err)
			}
			variants[c.Name] = append(variants[c.Name], key)
			if _, seen := v.clusters[key]; !seen {
				v.clusters[key] = &clusterView{raw: c, cla: c.LoadAssignment}
			}
		}
		seen := map[string]int{}
		for _, res := range r.Resources[resource.EndpointType] {
			cla, ok := res.(*endpoint.ClusterLoadAssignment)
			if !ok {
				return nil, fmt.Errorf("role %s: endpoint resource is %T", r.Name, res)
			}
			key := cla.ClusterName
			if keys := variants[key]; len(keys) > 1 || len(keys) == 1 && keys[0] != key {
				if k := seen[key]; k < len(keys) {
					key = keys[k]
				}
				seen[cla.ClusterName]++
			}
			if cv, ok := v.clusters[key]; ok && cv.cla == nil {
				cv.cla = cla
			}
		}
	}
	return v, nil
}

func newHostView(vh *route.VirtualHost) *hostView {
	h := &hostView{name: vh.Name, domains: vh.Domains, raw: vh}
	seen := map[string]int{}
	for _, r := range vh.Routes {
		key := r.Name
		if n := seen[r.Name]; n > 0 {
			key = r.Name + "#" + strconv.Itoa(n+1)
		}
		seen[r.Name]++
		rv := &routeView{key: key, name: r.Name, match: r.Match, raw: r}
		if a := r.GetRoute(); a != nil {
			switch {
			case a.GetCluster() != "":
				rv.dests = []dest{{a.GetCluster(), 100}}
			case a.GetWeightedClusters() != nil:
				for _, c := range a.GetWeightedClusters().Clusters {
					rv.dests = append(rv.dests, dest{c.Name, c.GetWeight().GetValue()})
				}
			}
		}
		h.routes = append(h.routes, rv)
	}
	return h
}

// endpointList renders each endpoint as "address:port" (with its weight when set), sorted.
func endpointList(cla *endpoint.ClusterLoadAssignment) []string {
	out := []string{}
	if cla == nil {
		return out
	}
	for _, loc := range cla.Endpoints {
		for _, lb := range loc.LbEndpoints {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			s := sa.GetAddress() + ":" + strconv.FormatUint(uint64(sa.GetPortValue()), 10)
			if w := lb.GetLoadBalancingWeight().GetValue(); w > 1 {
				s += " (weight " + strconv.FormatUint(uint64(w), 10) + ")"
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// clusterKey names a cluster in the comparison: its name, and for a variant chosen by proxy
// namespace the namespaces it is for.
func clusterKey(c *cluster.Cluster) (string, error) {
	scope, err := xds.ClusterScope(c)
	if err != nil || scope == nil {
		return c.Name, err
	}
	if scope.Elsewhere {
		if len(scope.Except) == 0 {
			return c.Name + " (every namespace)", nil
		}
		return c.Name + " (every namespace but " + strings.Join(scope.Except, ", ") + ")", nil
	}
	return c.Name + " (namespaces " + strings.Join(scope.Only, ", ") + ")", nil
}
