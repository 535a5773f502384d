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
