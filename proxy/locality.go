package proxy

import (
	"fmt"
	"math"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Locality is where a proxy runs, as xDS names it: a region, a zone within the region and a
// sub-zone within the zone. The zero value is no locality.
type Locality struct {
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	SubZone string `json:"sub_zone,omitempty"`
}

// localityForm is how ParseLocality's errors name the form they want.
const localityForm = "REGION[/ZONE[/SUBZONE]], e.g. us-east1/us-east1-b"

// ParseLocality reads a locality in Istio's form, REGION[/ZONE[/SUBZONE]]: one to three parts
// separated by "/", none of them empty. The empty string is no locality.
func ParseLocality(s string) (Locality, error) {
	if s == "" {
		return Locality{}, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) > 3 {
		return Locality{}, fmt.Errorf("%d parts, want %s", len(parts), localityForm)
	}
	for i, part := range parts {
		if part == "" {
			return Locality{}, fmt.Errorf("the %s is empty, want %s", [...]string{"region", "zone", "sub-zone"}[i], localityForm)
		}
	}
	parts = append(parts, "", "")
	return Locality{Region: parts[0], Zone: parts[1], SubZone: parts[2]}, nil
}

// String is the locality in the form ParseLocality reads.
func (l Locality) String() string {
	s := l.Region
	if l.Zone != "" || l.SubZone != "" {
		s += "/" + l.Zone
	}
	if l.SubZone != "" {
		s += "/" + l.SubZone
	}
	return s
}

// xds is the locality for Node.locality, nil when there is none.
func (l Locality) xds() *core.Locality {
	if l == (Locality{}) {
		return nil
	}
	return &core.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.SubZone}
}

// foldScale bounds the weights foldLocalities gives one priority level.
const foldScale = 1 << 20

// localityGroup is one locality of a level foldLocalities has folded: where its endpoints end
// in the level's list, and its weight.
type localityGroup struct {
	end    uint32
	weight uint32
}

// foldLocalities applies locality-weighted balancing (a cluster's locality_weighted_lb_config)
// to one priority level. Envoy picks a locality by its load_balancing_weight and then an
// endpoint within it by the cluster's policy; for ring hash and Maglev it multiplies each
// endpoint's normalised weight by its locality's. The balancers here pick from one list, so
// each endpoint's weight becomes its share of the level: its locality's share of the locality
// weights times its own share of its locality's endpoint weights, in integers that are exact
// when they fit in foldScale and otherwise within 1/foldScale of the level each (at least 1).
//
// A locality without a weight takes no traffic, and its endpoints leave the level. When no
// locality of the level has both a weight and an endpoint, Envoy finds no locality to pick and
// balances over the whole level by endpoint weight; so does this, returning eps as they are
// and no groups.
//
// The endpoints come back grouped by locality, in the order the localities first appear, with
// the groups for LEAST_REQUEST, which picks a locality before its endpoint (choose).
func foldLocalities(eps []endpointConfig) ([]endpointConfig, []localityGroup) {
	type group struct {
		weight uint64
		sum    uint64 // of its endpoints' weights
		eps    []endpointConfig
	}
	var groups []*group
	byLocality := map[uint32]*group{}
	var total, common uint64 // the sum and greatest common divisor of the locality weights
	for _, e := range eps {
		if e.localityWeight == 0 {
			continue
		}
		g := byLocality[e.locality]
		if g == nil {
			g = &group{weight: uint64(e.localityWeight)}
			byLocality[e.locality] = g
			groups = append(groups, g)
			total += g.weight
			common = gcd(common, g.weight)
		}
		g.sum += uint64(max(e.weight, 1))
		g.eps = append(g.eps, e)
	}
	if len(groups) == 0 {
		return eps, nil
	}

	// Exactly, endpoint e of locality l weighs weight(l)/common * weight(e) * lcm/sum(l), where
	// lcm is the least common multiple of the localities' sums: the level's weights then total
	// total/common * lcm, and each is at most that.
	lcm, exact := uint64(1), true
	for _, g := range groups {
		if g.sum > foldScale {
			exact = false
			break
		}
		if lcm = lcm / gcd(lcm, g.sum) * g.sum; lcm > foldScale {
			exact = false
			break
		}
	}
	exact = exact && total/common <= foldScale/lcm

	out := make([]endpointConfig, 0, len(eps))
	locs := make([]localityGroup, 0, len(groups))
	var reduce uint64 // the greatest common divisor of the folded weights
	for _, g := range groups {
		for _, e := range g.eps {
			w := uint64(max(e.weight, 1))
			if exact {
				w = g.weight / common * w * (lcm / g.sum)
			} else {
				share := float64(g.weight) / float64(total) * float64(w) / float64(g.sum)
				w = max(1, uint64(math.Round(share*foldScale)))
			}
			e.weight = uint32(w)
			reduce = gcd(reduce, w)
			out = append(out, e)
		}
		locs = append(locs, localityGroup{end: uint32(len(out)), weight: uint32(g.weight)})
	}
	for i := range out {
		out[i].weight /= uint32(reduce)
	}
	return out, locs
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
