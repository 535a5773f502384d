package compiler

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
)

// Place is where a proxy runs and what it is, as its xDS node tells the publisher.
type Place struct {
	// Locality is "region/zone/subzone"; any part may be empty.
	Locality string
	// Labels are the node's labels.
	Labels map[string]string
	// Namespace is the node's namespace (Istio's NAMESPACE node metadata); "" for none.
	Namespace string
}

// maxPlaces bounds the places a snapshot keeps localised roles for.
const maxPlaces = 1024

// localities is a snapshot's cache of localised roles, by role and place key. A snapshot is
// immutable, so a role localised once for a place stays right for as long as it is served.
type localities struct {
	mu    sync.Mutex
	roles map[string]*Role
	// marshaled holds the bytes of compiled roles' resources that localised copies share, so
	// that each copy's versions cost marshaling only what it changed.
	marshaled map[types.Resource][]byte
}

// versionOf is typeVersion of list, a localised copy of orig (one type of a compiled role):
// the resources it shares with orig are marshaled once per snapshot. c may be nil (no cache);
// otherwise its lock is held.
func (c *localities) versionOf(list, orig []types.Resource) (string, error) {
	if c == nil {
		return typeVersion(list, deterministic.Marshal)
	}
	shared := make(map[types.Resource]bool, len(orig))
	for _, r := range orig {
		shared[r] = true
	}
	return typeVersion(list, func(m proto.Message) ([]byte, error) {
		res := m.(types.Resource)
		if b, ok := c.marshaled[res]; ok {
			return b, nil
		}
		b, err := deterministic.Marshal(m)
		if err != nil || !shared[res] {
			return b, err
		}
		if c.marshaled == nil {
			c.marshaled = map[types.Resource][]byte{}
		}
		c.marshaled[res] = b
		return b, nil
	})
}

// roleLocality is what a role needs to localise its endpoints, read once from its clusters.
type roleLocality struct {
	once sync.Once
	// policies by the name of the endpoints they shape: the EDS service name for EDS
	// clusters, the cluster name for clusters that carry their endpoints inline.
	policies map[string]*ir.LocalityLB
	// labels are the proxy labels failoverPriority compares, sorted; a place key holds them.
	labels []string
	err    error
}

func (r *Role) localityPolicies() *roleLocality {
	r.locality.once.Do(func() {
		rl := &r.locality
		for _, res := range r.Resources[resource.ClusterType] {
			c, ok := res.(*cluster.Cluster)
			if !ok {
				continue
			}
			p, err := xds.LocalityPolicy(c)
			if err != nil {
				rl.err = err
				return
			}
			if p == nil {
				continue
			}
			if rl.policies == nil {
				rl.policies = map[string]*ir.LocalityLB{}
			}
			name := c.GetName()
			if c.GetLoadAssignment() == nil {
				name = cmp.Or(c.GetEdsClusterConfig().GetServiceName(), c.GetName())
			}
			rl.policies[name] = p
			for _, l := range p.FailoverPriority {
				if name, _, fixed := strings.Cut(l, "="); !fixed && !slices.Contains(rl.labels, name) {
					rl.labels = append(rl.labels, name)
				}
			}
		}
		slices.Sort(rl.labels)
	})
	return &r.locality
}

// Localized is role r of s as a proxy at place is served it, as istiod computes it per proxy:
// every cluster's endpoints get the priorities and locality weights its locality policy gives
// them relative to that proxy, and only the routes that apply to the proxy (sourceLabels,
// sourceNamespace) are kept, and of a cluster chosen by namespace (a DestinationRule exported
// to some namespaces only) the variant for the proxy's, and only the clusters (and endpoints)
// of the services it sees (ServiceEntry exportTo, its Sidecar's egress hosts) and of those its
// routes and listeners name, as Istio sends a proxy clusters for its SidecarScope's services
// alone. Only the types that change are replaced, each with a version digested from its new
// content; a role with no locality policy, no conditional route and no cluster chosen per place,
// or that comes out the same, is r itself. It fails only on a policy or condition that cannot
// be read.
func (s *Snapshot) Localized(r *Role, place Place) (*Role, error) {
	sc := r.clusterScopes()
	if sc.err != nil {
		return nil, sc.err
	}
	// The route conditions are read from the role as compiled: the copies below share its
	// routes, so they hold for those too.
	rs := r.sourceConditions()
	if rs.err != nil {
		return nil, rs.err
	}
	at := rs.at(place)
	var variants string
	if sc.scopes != nil {
		// Clusters chosen by the proxy's place first (the DestinationRule it sees, the
		// services it sees): the rest localises what it is served.
		variants = sc.chosenFor(r, at, rs.conditions)
		cr, err := s.clustersFor(r, sc, variants)
		if err != nil {
			return nil, err
		}
		r = cr
	}
	rl := r.localityPolicies()
	if rl.err != nil {
		return nil, rl.err
	}
	localized, chosen := len(rl.policies) > 0, rs.conditional
	if !localized && !chosen {
		return r, nil
	}
	labels := topologyLabels(place.Labels, place.Locality, "")
	var key string
	if localized {
		key = placeKey(r.Name, place.Locality, rl.labels, labels)
	} else {
		key = r.Name
	}
	if sc.scopes != nil {
		key += "\x00clusters\x00" + variants
	}
	if chosen {
		key += rs.sourceKey(at)
	}
	c := s.local
	if c == nil {
		return localizeRole(r, rl, rs, at, labels, nil)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if lr, ok := c.roles[key]; ok {
		return lr, nil
	}
	lr, err := localizeRole(r, rl, rs, at, labels, c)
	if err != nil {
		return nil, err
	}
	if c.roles == nil || len(c.roles) >= maxPlaces {
		// Places are as many as the mesh has localities, but node.locality is whatever
		// clients send: the cache starts over rather than grow without bound.
		c.roles = map[string]*Role{}
	}
	c.roles[key] = lr
	return lr, nil
}

// localizeRole applies both halves of Localized: endpoints for the locality, routes for the
// proxy's labels and namespace. The result names its place, so it is never taken for the
// role as compiled.
func localizeRole(r *Role, rl *roleLocality, rs *roleSources, place proxyPlace, labels map[string]string, c *localities) (*Role, error) {
	out := r
	if len(rl.policies) > 0 {
		var err error
		if out, err = localize(r, rl.policies, place.Locality, labels, c); err != nil {
			return nil, err
		}
	}
	if !rs.conditional {
		return out, nil
	}
	chosen, err := chooseRoutes(out, rs.conditions, place, c)
	if err != nil {
		return nil, err
	}
	if chosen != out {
		chosen.Place = strings.TrimSpace(out.Place + " " + rs.sourceName(place))
	}
	return chosen, nil
}

// placeKey names what a localised role depends on: the role, the proxy's locality, and the
// proxy labels failoverPriority compares.
func placeKey(role, locality string, names []string, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(role)
	b.WriteByte(0)
	b.WriteString(locality)
	for _, n := range names {
		b.WriteByte(0)
		b.WriteString(labels[n])
	}
	return b.String()
}

func localize(r *Role, policies map[string]*ir.LocalityLB, locality string, labels map[string]string, c *localities) (*Role, error) {
	proxy := splitPlace(locality)
	out := &Role{Name: r.Name, Selector: r.Selector, Resources: maps.Clone(r.Resources), Versions: maps.Clone(r.Versions),
		Place: strings.TrimSpace(r.Place + " " + locality), fileTypes: r.fileTypes}
	changed := false
	for _, t := range []resource.Type{resource.ClusterType, resource.EndpointType} {
		var list []types.Resource
		for i, res := range r.Resources[t] {
			lr := localizeResource(res, policies, proxy, labels)
			if lr == res {
				continue
			}
			if list == nil {
				list = slices.Clone(r.Resources[t])
			}
			list[i] = lr
		}
		if list == nil {
			continue
		}
		v, err := c.versionOf(list, r.Resources[t])
		if err != nil {
			return nil, err
		}
		out.Resources[t], out.Versions[t], changed = list, v, true
	}
	if !changed {
		return r, nil
	}
	return out, nil
}

// localizeResource returns res with its endpoints localised, or res itself when its policy
// changes nothing for this proxy.
func localizeResource(res types.Resource, policies map[string]*ir.LocalityLB, proxy [3]string, labels map[string]string) types.Resource {
	switch v := res.(type) {
	case *endpoint.ClusterLoadAssignment:
		p := policies[v.GetClusterName()]
		if p == nil {
			return res
		}
		cla := shallowCopy(v)
		applyLocalityLB(cla, p, proxy, labels)
		if sameAssignment(cla, v) {
			return res
		}
		return cla
	case *cluster.Cluster:
		p := policies[v.GetName()]
		if p == nil || v.GetLoadAssignment() == nil {
			return res
		}
		cla := shallowCopy(v.GetLoadAssignment())
		applyLocalityLB(cla, p, proxy, labels)
		if sameAssignment(cla, v.GetLoadAssignment()) {
			return res
		}
		c := proto.Clone(v).(*cluster.Cluster)
		c.LoadAssignment = cla
		return c
	}
	return res
}

// shallowCopy copies an assignment down to its localities, whose priority and weight
// localising sets; the endpoints themselves are shared, never changed. (A deep copy of every
// cluster's endpoints for every place cost more than the rest of localising.)
func shallowCopy(cla *endpoint.ClusterLoadAssignment) *endpoint.ClusterLoadAssignment {
	out := &endpoint.ClusterLoadAssignment{ClusterName: cla.ClusterName, Policy: cla.Policy, NamedEndpoints: cla.NamedEndpoints,
		Endpoints: make([]*endpoint.LocalityLbEndpoints, len(cla.Endpoints))}
	for i, l := range cla.Endpoints {
		out.Endpoints[i] = copyLocality(l, l.LbEndpoints)
	}
	return out
}

// copyLocality is l holding eps.
func copyLocality(l *endpoint.LocalityLbEndpoints, eps []*endpoint.LbEndpoint) *endpoint.LocalityLbEndpoints {
	return &endpoint.LocalityLbEndpoints{Locality: l.Locality, Metadata: l.Metadata, LbEndpoints: eps, LbConfig: l.LbConfig,
		LoadBalancingWeight: l.LoadBalancingWeight, Priority: l.Priority, Proximity: l.Proximity}
}

// sameAssignment tells whether localising left a shallow copy as it was.
func sameAssignment(a, b *endpoint.ClusterLoadAssignment) bool {
	if len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for i, l := range a.Endpoints {
		o := b.Endpoints[i]
		if l.Priority != o.Priority || l.GetLoadBalancingWeight().GetValue() != o.GetLoadBalancingWeight().GetValue() ||
			(l.LoadBalancingWeight == nil) != (o.LoadBalancingWeight == nil) || len(l.LbEndpoints) != len(o.LbEndpoints) ||
			(len(l.LbEndpoints) > 0 && l.LbEndpoints[0] != o.LbEndpoints[0]) {
			return false
		}
	}
	return true
}

// splitPlace is a proxy locality as region, zone and subzone.
func splitPlace(locality string) [3]string {
	r, z, s := splitLocality(locality)
	return [3]string{r, z, s}
}

// applyLocalityLB is Istio's ApplyLocalityLoadBalancer: distribute, else failover by
// failoverPriority labels and then by nearness.
func applyLocalityLB(cla *endpoint.ClusterLoadAssignment, p *ir.LocalityLB, proxy [3]string, labels map[string]string) {
	switch {
	case len(p.Distribute) > 0:
		distribute(cla, p.Distribute, proxy)
	case p.Failover && len(p.FailoverPriority) > 0:
		failoverByLabels(cla, p.FailoverPriority, labels)
		if len(p.Regions) > 0 {
			failoverByNearness(cla, p.Regions, proxy)
		}
	case p.Failover:
		failoverByNearness(cla, p.Regions, proxy)
	}
}

// localityMatch is Istio's LocalityMatch: a pattern's region must match (or be "*"); a zone or
// subzone it leaves out or gives as "*" matches anything.
func localityMatch(l [3]string, pattern string) bool {
	r, z, s := splitLocality(pattern)
	return (r == "*" || r == l[0]) && (z == "" || z == "*" || z == l[1]) && (s == "" || s == "*" || s == l[2])
}

func localityOf(e *endpoint.LocalityLbEndpoints) [3]string {
	l := e.GetLocality()
	return [3]string{l.GetRegion(), l.GetZone(), l.GetSubZone()}
}

// distribute is Istio's applyLocalityWeights: for proxies in the first entry whose From
// matches, each locality takes its share of the weight of the first destination it matches,
// split among the localities that destination matches by their own weights; localities no
// destination matches get no traffic (Istio empties them; they are dropped here).
func distribute(cla *endpoint.ClusterLoadAssignment, rules []ir.LocalityDistribute, proxy [3]string) {
	for _, rule := range rules {
		if !localityMatch(proxy, rule.From) {
			continue
		}
		taken := make([]bool, len(cla.Endpoints))
		for _, to := range rule.To {
			var matched []int
			total := uint64(0)
			for i, l := range cla.Endpoints {
				if !taken[i] && localityMatch(localityOf(l), to.Locality) {
					taken[i] = true
					matched = append(matched, i)
					total += uint64(localityWeight(l))
				}
			}
			for _, i := range matched {
				w := math.Ceil(float64(uint64(localityWeight(cla.Endpoints[i]))*uint64(to.Weight)) / float64(total))
				if w > 0 {
					cla.Endpoints[i].LoadBalancingWeight = wrapperspb.UInt32(uint32(w))
				}
			}
		}
		kept := cla.Endpoints[:0]
		for i, l := range cla.Endpoints {
			if taken[i] {
				kept = append(kept, l)
			}
		}
		cla.Endpoints = kept
		return
	}
}

func localityWeight(l *endpoint.LocalityLbEndpoints) uint32 {
	if w := l.GetLoadBalancingWeight(); w != nil {
		return w.GetValue()
	}
	return 1
}

// nearness is Istio's LbPriority: 0 for the proxy's own subzone, 1 its zone, 2 its region,
// 3 elsewhere.
func nearness(proxy, l [3]string) uint32 {
	switch {
	case proxy[0] != l[0]:
		return 3
	case proxy[1] != l[1]:
		return 2
	case proxy[2] != l[2]:
		return 1
	}
	return 0
}

// failoverByNearness is Istio's applyLocalityFailover: each locality's priority is its
// nearness to the proxy, and a region with a failover entry for the proxy's region comes
// before other regions. It refines priorities already given (failoverByLabels), then ranks
// the result densely from 0, as Envoy requires.
func failoverByNearness(cla *endpoint.ClusterLoadAssignment, regions []ir.LocalityFailover, proxy [3]string) {
	for _, l := range cla.Endpoints {
		loc := localityOf(l)
		p := nearness(proxy, loc)
		if p == 3 {
			for _, f := range regions {
				if f.From == proxy[0] {
					if loc[0] != f.To {
						p = 4
					}
					break
				}
			}
		}
		l.Priority = l.Priority*5 + p
	}
	rankPriorities(cla.Endpoints)
}

// rankPriorities renumbers priorities 0, 1, 2… keeping their order.
func rankPriorities(ls []*endpoint.LocalityLbEndpoints) {
	var used []uint32
	for _, l := range ls {
		if !slices.Contains(used, l.Priority) {
			used = append(used, l.Priority)
		}
	}
	slices.Sort(used)
	for _, l := range ls {
		l.Priority = uint32(slices.Index(used, l.Priority))
	}
}

// failoverByLabels is Istio's applyFailoverPriorities: each endpoint's priority is how early
// its labels stop matching the proxy's, in failoverPriority order (all matching: 0; the first
// differing: the lowest), and each locality splits into one group per priority. A proxy
// without labels leaves priorities alone, as in Istio.
func failoverByLabels(cla *endpoint.ClusterLoadAssignment, priority []string, proxyLabels map[string]string) {
	if len(proxyLabels) == 0 {
		return
	}
	var out []*endpoint.LocalityLbEndpoints
	for _, l := range cla.Endpoints {
		groups := map[uint32]*endpoint.LocalityLbEndpoints{}
		for _, e := range l.LbEndpoints {
			p := labelPriority(priority, proxyLabels, xds.EndpointLabels(e))
			g := groups[p]
			if g == nil {
				g = copyLocality(l, nil)
				g.Priority, g.LoadBalancingWeight = p, wrapperspb.UInt32(0)
				groups[p] = g
			}
			g.LbEndpoints = append(g.LbEndpoints, e)
			g.LoadBalancingWeight.Value += endpointWeight(e)
		}
		for _, p := range slices.Sorted(maps.Keys(groups)) {
			out = append(out, groups[p])
		}
	}
	cla.Endpoints = out
	rankPriorities(cla.Endpoints)
}

// labelPriority ranks one endpoint: 0 when every label matches, else the number of labels
// from the first that differs to the end.
func labelPriority(priority []string, proxyLabels, endpointLabels map[string]string) uint32 {
	for j, l := range priority {
		name, want, fixed := strings.Cut(l, "=")
		if !fixed {
			want = proxyLabels[name]
		}
		if endpointLabels[name] != want {
			return uint32(len(priority) - j)
		}
	}
	return 0
}

func endpointWeight(e *endpoint.LbEndpoint) uint32 {
	if w := e.GetLoadBalancingWeight(); w != nil {
		return w.GetValue()
	}
	return 1
}
