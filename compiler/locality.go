package compiler

import (
	"cmp"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// Istio's topology labels, which it adds to every workload's and proxy's own labels from their
// locality and network, so failoverPriority can name them.
const (
	labelRegion  = "topology.kubernetes.io/region"
	labelZone    = "topology.kubernetes.io/zone"
	labelSubzone = "topology.istio.io/subzone"
	labelNetwork = "topology.istio.io/network"
)

// localityLB is Istio's choice of locality policy for one cluster: the DestinationRule's
// localityLbSetting, else the mesh's (signalbox.yaml; unset, enabled as Istio ships it), as
// given by the caller. Distribute applies as
// written; failover applies only with outlier detection, since without it no endpoint is ever
// ejected and a lower priority would never take traffic.
func localityLB(set *schema.LocalityLoadBalancerSetting, outlier bool) *ir.LocalityLB {
	if set != nil && set.Enabled != nil && !*set.Enabled {
		return nil
	}
	if set != nil && len(set.Distribute) > 0 {
		out := &ir.LocalityLB{}
		for _, d := range set.Distribute {
			out.Distribute = append(out.Distribute, ir.LocalityDistribute{From: d.From, To: distributeTargets(d.To)})
		}
		return out
	}
	if !outlier {
		return nil
	}
	out := &ir.LocalityLB{Failover: true}
	if set != nil {
		for _, f := range set.Failover {
			out.Regions = append(out.Regions, ir.LocalityFailover{From: f.From, To: f.To})
		}
		out.FailoverPriority = slices.Clone(set.FailoverPriority)
	}
	return out
}

// distributeTargets orders a distribute's destinations most specific first, so a locality that
// matches both "us/zone1/*" and "us/*" takes the weight of the one naming it more closely (a
// map in Istio's API, whose order Istio leaves to chance).
func distributeTargets(to map[string]uint32) []ir.LocalityWeight {
	out := make([]ir.LocalityWeight, 0, len(to))
	for loc, w := range to {
		out = append(out, ir.LocalityWeight{Locality: loc, Weight: w})
	}
	slices.SortFunc(out, func(a, b ir.LocalityWeight) int {
		return cmp.Or(cmp.Compare(specificity(b.Locality), specificity(a.Locality)), strings.Compare(a.Locality, b.Locality))
	})
	return out
}

// specificity counts the parts of a locality pattern that are not the "*" wildcard.
func specificity(pattern string) int {
	n := 0
	for part := range strings.SplitSeq(pattern, "/") {
		if part != "*" {
			n++
		}
	}
	return n
}

// topologyLabels are a workload's labels with Istio's topology labels added from its locality
// and network (Istio's AugmentLabels: locality parts override, a network label already set is
// kept).
func topologyLabels(labels map[string]string, locality, network string) map[string]string {
	out := make(map[string]string, len(labels)+4)
	for k, v := range labels {
		out[k] = v
	}
	region, zone, subzone := splitLocality(locality)
	for k, v := range map[string]string{labelRegion: region, labelZone: zone, labelSubzone: subzone} {
		if v != "" {
			out[k] = v
		}
	}
	if network != "" && out[labelNetwork] == "" {
		out[labelNetwork] = network
	}
	return out
}

// splitLocality splits "region/zone/subzone"; missing parts are empty.
func splitLocality(l string) (region, zone, subzone string) {
	parts := strings.SplitN(l, "/", 3)
	region = parts[0]
	if len(parts) > 1 {
		zone = parts[1]
	}
	if len(parts) > 2 {
		subzone = parts[2]
	}
	return region, zone, subzone
}
