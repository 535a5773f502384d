package proxy

import (
	"maps"
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// endpointsConfig is a validated ClusterLoadAssignment reduced to what the balancer uses: the
// endpoints of the best priority that has any usable endpoint, and the lower priorities in
// order, which take the traffic the levels above shed as their endpoints are ejected. Each
// endpoint keeps its locality and the locality's weight, which the cluster (sent apart, by
// CDS) may weigh by.
type endpointsConfig struct {
	name  string
	eps   []endpointConfig
	lower [][]endpointConfig // the next priorities, best first
	count int                // endpoints across all priorities, usable or not
	raw   []byte
}

type endpointConfig struct {
	addr   string
	weight uint32
	// locality tells the endpoint's locality from the others of its priority (one region, zone
	// and sub-zone is one locality, as in Envoy); localityWeight is that locality's
	// load_balancing_weight, 0 when it has none. They count only for a cluster with
	// locality_weighted_lb_config, whose balancer folds them into the weights (foldLocalities);
	// otherwise locality weights are ignored, as Envoy ignores them.
	locality       uint32
	localityWeight uint32
}

// localityKey is a locality within a priority.
type localityKey struct {
	priority              uint32
	region, zone, subZone string
}

func decodeClusterLoadAssignment(cla *endpointv3.ClusterLoadAssignment) (*endpointsConfig, error) {
	if err := validateAll("", cla); err != nil {
		return nil, err
	}
	eps, err := decodeEndpoints("", cla, false)
	if err != nil {
		return nil, err
	}
	raw, err := deterministic.Marshal(cla)
	if err != nil {
		return nil, err
	}
	eps.raw = raw
	return eps, nil
}

func decodeEndpoints(p fieldPath, cla *endpointv3.ClusterLoadAssignment, allowHostname bool) (*endpointsConfig, error) {
	if err := onlyFields(p, cla, "cluster_name", "endpoints"); err != nil {
		return nil, err
	}
	out := &endpointsConfig{name: cla.GetClusterName()}
	byPriority := map[uint32][]endpointConfig{}
	localities := map[localityKey]uint32{} // -> index in localityWeights
	var localityWeights []uint32
	for i, l := range cla.GetEndpoints() {
		lp := p.field("endpoints").index(i)
		if err := onlyFields(lp, l, "locality", "lb_endpoints", "load_balancing_weight", "priority", "metadata"); err != nil {
			return nil, err
		}
		key := localityKey{l.GetPriority(), l.GetLocality().GetRegion(), l.GetLocality().GetZone(), l.GetLocality().GetSubZone()}
		loc, ok := localities[key]
		if !ok {
			loc = uint32(len(localityWeights))
			localities[key] = loc
			localityWeights = append(localityWeights, 0)
		}
		// As in Envoy, a weight counts only beside a locality, and of two entries for one
		// locality the later weight wins.
		if l.GetLocality() != nil && l.GetLoadBalancingWeight() != nil {
			localityWeights[loc] = l.GetLoadBalancingWeight().GetValue()
		}
		for j, e := range l.GetLbEndpoints() {
			ep := lp.field("lb_endpoints").index(j)
			if err := onlyFields(ep, e, "endpoint", "health_status", "load_balancing_weight", "metadata"); err != nil {
				return nil, err
			}
			end := e.GetEndpoint()
			if end == nil {
				return nil, ep.field("endpoint").errorf("required")
			}
			if err := onlyFields(ep.field("endpoint"), end, "address", "hostname"); err != nil {
				return nil, err
			}
			addr, err := socketAddress(ep.field("endpoint").field("address"), end.GetAddress(), allowHostname)
			if err != nil {
				return nil, err
			}
			out.count++
			switch e.GetHealthStatus() {
			case core.HealthStatus_UNHEALTHY, core.HealthStatus_DRAINING, core.HealthStatus_TIMEOUT:
				continue // Envoy sends no new requests to these
			}
			w := uint32(1)
			if lw := e.GetLoadBalancingWeight(); lw != nil {
				w = lw.GetValue()
			}
			// Every endpoint is taken as healthy (no health checking), so only the best
			// priority level that has endpoints takes traffic, as in Envoy, until outlier
			// detection ejects enough of it to shed load (choosePriority).
			byPriority[l.GetPriority()] = append(byPriority[l.GetPriority()], endpointConfig{addr: addr, weight: w, locality: loc})
		}
	}
	for _, eps := range byPriority {
		for i := range eps {
			eps[i].localityWeight = localityWeights[eps[i].locality]
		}
	}
	for i, prio := range slices.Sorted(maps.Keys(byPriority)) {
		if i == 0 {
			out.eps = byPriority[prio]
		} else {
			out.lower = append(out.lower, byPriority[prio])
		}
	}
	return out, nil
}
