package proxy

import (
	"fmt"
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
