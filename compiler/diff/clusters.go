package diff

import (
	"fmt"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/proto"

	"github.com/signalbox/signalbox/compiler/xds"
)

func (r *Report) compareClusters(bv, hv *view) {
	names := map[string]bool{}
	for k := range bv.clusters {
		names[k] = true
	}
	for k := range hv.clusters {
		names[k] = true
	}
	for _, name := range sortedKeys(names) {
		b, a := bv.clusters[name], hv.clusters[name]
		switch {
		case b == nil:
			r.add(Change{Cluster: name, What: ClusterAdded, After: "endpoints " + fmtList(endpointList(a.cla))})
		case a == nil:
			r.add(Change{Cluster: name, What: ClusterRemoved, Before: "endpoints " + fmtList(endpointList(b.cla))})
		default:
			if !proto.Equal(b.cla, a.cla) {
				if removed, added := setDiff(endpointList(b.cla), endpointList(a.cla)); len(removed)+len(added) > 0 {
					r.add(Change{Cluster: name, What: Endpoints, Before: "removed " + fmtList(removed), After: "added " + fmtList(added)})
				}
			}
			if proto.Equal(b.raw, a.raw) {
				continue
			}
			if bl, al := describeLocality(b.raw), describeLocality(a.raw); bl != al {
				r.add(Change{Cluster: name, What: LocalityLB, Before: bl, After: al})
			}
			// The metadata holds the locality policy alone, described above.
			if fields := differingFields(b.raw, a.raw, "load_assignment", "metadata"); len(fields) > 0 {
				r.add(Change{Cluster: name, What: ClusterSettings, After: "changed: " + strings.Join(fields, ", ")})
			}
		}
	}
}

// setDiff returns what only a has and what only b has; both are sorted.
func setDiff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

// describeLocality says how a cluster's locality policy shapes each proxy's endpoints.
func describeLocality(c *cluster.Cluster) string {
	l, err := xds.LocalityPolicy(c)
	switch {
	case err != nil:
		return "unreadable: " + err.Error()
	case l == nil:
		return "off"
	case len(l.Distribute) > 0:
		var rules []string
		for _, d := range l.Distribute {
			var to []string
			for _, w := range d.To {
				to = append(to, fmt.Sprintf("%s %d", w.Locality, w.Weight))
			}
			rules = append(rules, "from "+d.From+": "+strings.Join(to, ", "))
		}
		return "distribute " + strings.Join(rules, "; ")
	}
	var parts []string
	if len(l.FailoverPriority) > 0 {
		parts = append(parts, "by labels "+strings.Join(l.FailoverPriority, ", "))
	}
	if len(l.FailoverPriority) == 0 || len(l.Regions) > 0 {
		parts = append(parts, "by nearness")
	}
	for _, f := range l.Regions {
		parts = append(parts, f.From+" → "+f.To)
	}
	return "failover " + strings.Join(parts, ", ")
}
