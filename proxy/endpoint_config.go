package proxy

import (
	"maps"
	"slices"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// endpointsConfig is a validated ClusterLoadAssignment reduced to what the balancer uses: the
// endpoints of the best priority that has any usable endpoint, and the lower priorities in
// order, which take traffic when every endpoint above them is ejected.
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
	for i, l := range cla.GetEndpoints() {
		lp := p.field("endpoints").index(i)
		// Locality weights only matter with locality-weighted balancing, which no cluster
		// this proxy accepts enables; Envoy ignores them too in that case.
		if err := onlyFields(lp, l, "locality", "lb_endpoints", "load_balancing_weight", "priority", "metadata"); err != nil {
			return nil, err
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
			// detection ejects all of it.
			byPriority[l.GetPriority()] = append(byPriority[l.GetPriority()], endpointConfig{addr: addr, weight: w})
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
