package analysis

import (
	"sort"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// rootNamespace is Istio's default root namespace: a workload policy there applies mesh-wide.
const rootNamespace = "istio-system"

// workloadIndex finds the workloads a label selector picks without scanning them all: each
// workload is listed under every label pair it carries, and a selector is checked only against
// the workloads under its rarest pair.
type workloadIndex struct {
	labels []map[string]string
	ns     []string
	byPair map[string][]int // "k=v" -> workloads carrying it
	count  map[string]int   // namespace -> number of workloads
}

func newWorkloadIndex() *workloadIndex {
	return &workloadIndex{byPair: map[string][]int{}, count: map[string]int{}}
}

func (w *workloadIndex) add(namespace string, labels map[string]string) {
	i := len(w.labels)
	w.labels = append(w.labels, labels)
	w.ns = append(w.ns, namespace)
	w.count[namespace]++
	for k, v := range labels {
		w.byPair[k+"="+v] = append(w.byPair[k+"="+v], i)
	}
}

// selects reports whether any workload visible from namespace carries every label of selector.
// An empty selector picks every workload of the namespace.
func (w *workloadIndex) selects(namespace string, selector map[string]string) bool {
	inScope := func(i int) bool { return namespace == rootNamespace || w.ns[i] == namespace }
	if len(selector) == 0 {
		if namespace == rootNamespace {
			return len(w.labels) > 0
		}
		return w.count[namespace] > 0
	}
	var rarest []int
	first := true
	for k, v := range selector {
		l := w.byPair[k+"="+v]
		if first || len(l) < len(rarest) {
			rarest, first = l, false
		}
	}
	for _, i := range rarest {
		if inScope(i) && labelsMatch(selector, w.labels[i]) {
			return true
		}
	}
	return false
}

// matching returns the labels of the workloads of namespace whose labels have every value of
// selector (an empty selector: all of them), as the compiler picks the WorkloadEntries of a
// ServiceEntry's workloadSelector: in its own namespace only, and a label the workload lacks
// has the value "".
func (w *workloadIndex) matching(namespace string, selector map[string]string) []map[string]string {
	var candidates []int
	scan := len(selector) == 0
	for k, v := range selector {
		if v == "" {
			scan = true // a workload without the label matches: it is under no pair
			break
		}
		if l := w.byPair[k+"="+v]; candidates == nil || len(l) < len(candidates) {
			candidates = l
		}
	}
	var out []map[string]string
	pick := func(i int) {
		if w.ns[i] == namespace && subsetSelects(selector, w.labels[i]) {
			out = append(out, w.labels[i])
		}
	}
	if scan {
		for i := range w.labels {
			pick(i)
		}
		return out
	}
	for _, i := range candidates {
		pick(i)
	}
	return out
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// workloadPolicy reports an AuthorizationPolicy or PeerAuthentication whose
// selector.matchLabels picks no WorkloadEntry, no ServiceEntry endpoint and no Gateway's proxies
// (those carry the Gateway's selector labels). A policy without a
// selector is namespace-wide and is not reported; neither is one attached by targetRef(s).
func (a *analyzer) workloadPolicy(d *schema.Document, sel *schema.WorkloadSelector) {
	if sel == nil || len(sel.MatchLabels) == 0 || a.idx.workloads.selects(d.Namespace, sel.MatchLabels) {
		return
	}
	keys := make([]string, 0, len(sel.MatchLabels))
	for k, v := range sel.MatchLabels {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	where := "namespace " + d.Namespace
	if d.Namespace == rootNamespace {
		where = "the mesh"
	}
	a.report(d, CodeSelectsNoWorkload, "spec.selector.matchLabels",
		"selector %s matches no WorkloadEntry, ServiceEntry endpoint or Gateway selector in %s: this %s applies to nothing",
		strings.Join(keys, ","), where, d.Kind)
}
