package diff

import (
	"strings"

	"google.golang.org/protobuf/proto"
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
			if fields := differingFields(b.raw, a.raw, "load_assignment"); len(fields) > 0 {
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
