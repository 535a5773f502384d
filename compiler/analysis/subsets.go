package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// entryEndpoints are the endpoint labels of the ServiceEntry that declares a host, where the
// tree holds them: its endpoints, or the WorkloadEntries of its namespace its workloadSelector
// picks (resolved when a DestinationRule asks). A DNS-resolved entry is not listed: the proxy
// finds its addresses, and what labels they carry is not in the tree.
type entryEndpoints struct {
	namespace  string
	listed     []map[string]string // the entry's own endpoints
	bySelector bool                // a workloadSelector picks them instead, by selector
	selector   map[string]string
}

// endpointLabels returns the labels of every endpoint of e, the compiler's way.
func (idx *index) endpointLabels(e *entryEndpoints) []map[string]string {
	if !e.bySelector {
		return e.listed
	}
	return idx.workloadEntries.matching(e.namespace, e.selector)
}

// subsetEndpoints reports each subset of a DestinationRule whose labels pick no endpoint of a
// service that has some: every request routed to it finds no upstream (503). A host that
// ServiceEntries of several namespaces declare is reported only when the subset picks no
// endpoint of any of them: which one the rule's proxies see is the compiler's choice.
func (a *analyzer) subsetEndpoints(d *schema.Document, dr *schema.DestinationRule) {
	entries := a.idx.entries[expandHost(dr.Host, d.Namespace)]
	if len(entries) == 0 || slices.Contains(entries, nil) {
		return
	}
	var eps []map[string]string
	resolved := false
	for i, s := range dr.Subsets {
		if len(s.Labels) == 0 {
			continue
		}
		if !resolved {
			for _, e := range entries {
				eps = append(eps, a.idx.endpointLabels(e)...)
			}
			resolved = true
			if len(eps) == 0 {
				return // the service itself has no endpoint: not the subset's doing
			}
		}
		if slices.ContainsFunc(eps, func(l map[string]string) bool { return subsetSelects(s.Labels, l) }) {
			continue
		}
		a.report(d, CodeEmptySubset, fmt.Sprintf("spec.subsets[%d].labels", i),
			"subset %q (%s) selects no endpoint of host %q, whose endpoints have %s: every request routed to it fails with 503",
			s.Name, pairs(s.Labels), expandHost(dr.Host, d.Namespace), carried(s.Labels, eps))
	}
}

// subsetSelects is the compiler's subset match: every label of the subset has its value.
func subsetSelects(subset, labels map[string]string) bool {
	for k, v := range subset {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// pairs prints labels as sorted k=v pairs.
func pairs(labels map[string]string) string {
	out := make([]string, 0, len(labels))
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// carried names the values the endpoints have for the subset's label keys, the first few.
func carried(subset map[string]string, eps []map[string]string) string {
	seen := map[string]bool{}
	for _, l := range eps {
		for k := range subset {
			if v, ok := l[k]; ok {
				seen[k+"="+v] = true
			}
		}
	}
	if len(seen) == 0 {
		keys := make([]string, 0, len(subset))
		for k := range subset {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "no label " + strings.Join(keys, " or ")
	}
	vals := sortedSet(seen)
	const most = 5
	if len(vals) > most {
		return strings.Join(vals[:most], ", ") + fmt.Sprintf(" and %d more", len(vals)-most)
	}
	return strings.Join(vals, ", ")
}
