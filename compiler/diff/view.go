package diff

import (
	"fmt"
	"sort"
	"strconv"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/signalbox/signalbox/compiler"
)

// view is a snapshot decoded into what the comparison keys on.
type view struct {
	version string
	// hosts per role, keyed by route configuration and virtual host name.
	hosts map[string]map[hostKey]*hostView
	// clusters are global: every role that uses a cluster gets the same one.
	clusters  map[string]*clusterView
	listeners map[string]map[string]*listener.Listener
}

type hostKey struct{ routeConfig, vhost string }

type hostView struct {
	name    string
	domains []string
	routes  []*routeView
	rest    *route.VirtualHost // everything but name, domains and routes
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

type clusterView struct {
	rest      *cluster.Cluster // without its inline load assignment
	endpoints []string
}

func newView(s *compiler.Snapshot) (*view, error) {
	v := &view{version: s.Version, hosts: map[string]map[hostKey]*hostView{},
		clusters: map[string]*clusterView{}, listeners: map[string]map[string]*listener.Listener{}}
	for _, r := range s.Roles {
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
		for _, res := range r.Resources[resource.ClusterType] {
			c, ok := res.(*cluster.Cluster)
			if !ok {
				return nil, fmt.Errorf("role %s: cluster resource is %T", r.Name, res)
			}
			if _, seen := v.clusters[c.Name]; seen {
				continue
			}
			rest := proto.Clone(c).(*cluster.Cluster)
			cv := &clusterView{rest: rest}
			if rest.LoadAssignment != nil {
				cv.endpoints = endpointList(rest.LoadAssignment)
				rest.LoadAssignment = nil
			}
			v.clusters[c.Name] = cv
		}
		for _, res := range r.Resources[resource.EndpointType] {
			cla, ok := res.(*endpoint.ClusterLoadAssignment)
			if !ok {
				return nil, fmt.Errorf("role %s: endpoint resource is %T", r.Name, res)
			}
			if cv, ok := v.clusters[cla.ClusterName]; ok && cv.endpoints == nil {
				cv.endpoints = endpointList(cla)
			}
		}
	}
	return v, nil
}

func newHostView(vh *route.VirtualHost) *hostView {
	h := &hostView{name: vh.Name, domains: vh.Domains}
	rest := proto.Clone(vh).(*route.VirtualHost)
	rest.Name, rest.Domains, rest.Routes = "", nil, nil
	h.rest = rest
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
