package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// destRule is the DestinationRule a proxy takes for a host: one rule, or the rules of one
// namespace for that host merged as Istio's PushContext.mergeDestinationRule merges them
// (pilot/pkg/model/destination_rule.go), so that every part of the merge keeps the document
// it was written in and a finding about it points there.
type destRule struct {
	// docs are the merged rules in merge order; docs[0] is the first.
	docs []*schema.Document
	// policy is the top-level trafficPolicy of the first rule that has one (policyDoc).
	policy    *schema.TrafficPolicy
	policyDoc *schema.Document
	// subsets are every rule's subsets in merge order, a name defined twice kept first.
	subsets []ruleSubset
}

// ruleSubset is one subset of a merged rule with the document and index it was written at.
type ruleSubset struct {
	*schema.Subset
	doc   *schema.Document
	index int
}

// path is where the subset was written in its document.
func (s *ruleSubset) path() string {
	return fmt.Sprintf("spec.subsets[%d]", s.index)
}

func newDestRule(d *schema.Document) *destRule {
	r := &destRule{docs: []*schema.Document{d}}
	dr := d.Spec.(*schema.DestinationRule)
	if dr.TrafficPolicy != nil {
		r.policy, r.policyDoc = dr.TrafficPolicy, d
	}
	for i := range dr.Subsets {
		r.subsets = append(r.subsets, ruleSubset{Subset: &dr.Subsets[i], doc: d, index: i})
	}
	return r
}

func (r *destRule) namespace() string { return r.docs[0].Namespace }

// exportTo is the merged rules' exportTo, which merging keeps equal.
func (r *destRule) exportTo() []string {
	return r.docs[0].Spec.(*schema.DestinationRule).ExportTo
}

func (r *destRule) subset(name string) *ruleSubset {
	for i := range r.subsets {
		if r.subsets[i].Name == name {
			return &r.subsets[i]
		}
	}
	return nil
}

// name describes the rule, or the merged rules, for a finding.
func (r *destRule) name() string {
	names := make([]string, len(r.docs))
	for i, d := range r.docs {
		names[i] = d.Namespace + "/" + d.Name
	}
	if len(names) == 1 {
		return "DestinationRule " + names[0]
	}
	return "DestinationRules " + strings.Join(names, " and ") + " (merged)"
}

// merge adds d, a later rule of the same namespace for the same host, as Istio merges it
// (with ENABLE_ENHANCED_DESTINATIONRULE_MERGE, its default since 1.24): its subsets are
// appended, a name already defined being ignored (the first wins); its top-level
// trafficPolicy is taken only when no earlier rule has one. Istio merges two rules only when
// their exportTo are the same set of values as written; otherwise it keeps them as separate
// rules and a proxy takes the later one alone, so the earlier one's subsets and policy vanish
// for it: signalbox refuses that rather than compile what the author cannot have meant.
// merge reports whether d was merged.
func (b *builder) merge(r *destRule, d *schema.Document, host string) bool {
	first := r.docs[0]
	dr := d.Spec.(*schema.DestinationRule)
	if !sameExportTo(r.exportTo(), dr.ExportTo) {
		path := "spec.exportTo"
		if len(dr.ExportTo) == 0 {
			path = "spec.host"
		}
		b.errorf(d, path, "host %q already has DestinationRule %s/%s (at %s) with exportTo %s, and this one has %s: Istio merges the rules of one namespace for a host only when their exportTo are the same as written (\"*\" and none differ, so do \".\" and the namespace's name), and otherwise keeps them apart, each proxy taking one of them without the other's subsets and policy; give them the same exportTo",
			host, first.Namespace, first.Name, first.Pos, exportToText(r.exportTo()), exportToText(dr.ExportTo))
		return false
	}
	for i := range dr.Subsets {
		s := &dr.Subsets[i]
		if prev := r.subset(s.Name); prev != nil {
			b.warnf(d, fmt.Sprintf("spec.subsets[%d].name", i), "ignored: subset %q of host %q is already defined by DestinationRule %s/%s at %s, merged before this one (the rules of one namespace for a host are merged in name order), and Istio keeps the first",
				s.Name, host, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
			continue
		}
		r.subsets = append(r.subsets, ruleSubset{Subset: s, doc: d, index: i})
	}
	if dr.TrafficPolicy != nil {
		if r.policy == nil {
			r.policy, r.policyDoc = dr.TrafficPolicy, d
		} else {
			b.warnf(d, "spec.trafficPolicy", "ignored: DestinationRule %s/%s at %s, merged before this one for host %q (the rules of one namespace for a host are merged in name order), already has a top-level trafficPolicy, and Istio keeps the first; subsets' own trafficPolicy still apply",
				r.policyDoc.Namespace, r.policyDoc.Name, r.policyDoc.Pos, host)
		}
	}
	r.docs = append(r.docs, d)
	return true
}

// sameExportTo compares two exportTo lists as Istio does: as sets of the values written.
func sameExportTo(a, b []string) bool {
	set := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	return maps.Equal(set(a), set(b))
}

func exportToText(xs []string) string {
	if len(xs) == 0 {
		return "unset"
	}
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// collectRules attaches the DestinationRules to the services they are for: the rules of one
// namespace for a host are merged into one (merge), and the rules of several namespaces are
// chosen by the proxy's (drexport.go). Istio merges in creation order, then by name; a policy
// tree has no creation time, and the rules a sync applies are mostly created in the same
// second, so signalbox merges in name order (then in the tree's order).
func (b *builder) collectRules() {
	docs := b.docs(schema.KindDestinationRule)
	slices.SortStableFunc(docs, func(x, y *schema.Document) int { return strings.Compare(x.Name, y.Name) })
	// rules are by host, one per namespace; a wildcard host ("*.local") keys the rules written
	// for it, which apply to the services it covers (wildcardRules).
	rules := map[string][]*destRule{}
	for _, d := range docs {
		dr := d.Spec.(*schema.DestinationRule)
		host := expandHost(dr.Host, d.Namespace)
		if _, ok := b.services[host]; !ok && !strings.HasPrefix(host, "*") {
			// Subsets of an undeclared host select nothing; routes naming them are reported there.
			continue
		}
		if i := slices.IndexFunc(rules[host], func(r *destRule) bool { return r.namespace() == d.Namespace }); i >= 0 {
			if !b.merge(rules[host][i], d, host) {
				continue
			}
		} else {
			rules[host] = append(rules[host], newDestRule(d))
		}
		b.checkRule(d, dr)
	}
	b.wildcardRules(rules)
	checked := map[*destRule]bool{}
	for _, host := range slices.Sorted(maps.Keys(b.services)) {
		if svc := b.services[host]; svc.entries != nil && len(rules[host]) == 0 {
			svc.variants = entryVariants(svc, nil)
		}
	}
	for _, host := range slices.Sorted(maps.Keys(rules)) {
		if _, ok := b.services[host]; !ok {
			continue // a wildcard's own entry: its rules are now the covered services'
		}
		rs, svc := rules[host], b.services[host]
		if svc.entries != nil {
			svc.variants = entryVariants(svc, rs)
			for _, r := range rs {
				if !checked[r] {
					checked[r] = true
					b.checkVariantRule(r)
				}
			}
			continue
		}
		// A lone rule exported everywhere applies to every proxy only from the service's
		// namespace or the root namespace: Istio's PushContext.destinationRule looks nowhere
		// else, so one in a third namespace is its own namespace's alone.
		if ns := rs[0].namespace(); len(rs) == 1 && schema.ExportedTo(ns, rs[0].exportTo()) == nil &&
			(ns == svc.doc.Namespace || ns == rootNamespace) {
			svc.rule = rs[0]
			continue
		}
		svc.variants = ruleVariants(svc, rs)
		for _, r := range rs {
			if !checked[r] {
				checked[r] = true
				b.checkVariantRule(r)
			}
		}
	}
}

// wildcardRules adds to each service the rules written for a wildcard host that covers it
// ("*.local", "*.example.com"), as Istio's PushContext.destinationRule finds them with
// MostSpecificHostMatch in each namespace it looks in: a namespace's rule for the host itself
// wins over its wildcard ones, and a narrower wildcard over a wider one. Each namespace's rule
// then takes part in the choice by the proxy's namespace like any other (ruleFor): a root
// namespace "*.local" rule reaches every service that no nearer rule names. The rules of one
// wildcard are shared by the services it covers, so each finding about them is made once.
func (b *builder) wildcardRules(rules map[string][]*destRule) {
	var wildcards []string
	for h := range rules {
		if strings.HasPrefix(h, "*") {
			wildcards = append(wildcards, h)
		}
	}
	// Narrowest first: a longer wildcard covers fewer names.
	slices.SortFunc(wildcards, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	covering := map[string]bool{} // the wildcards that cover some service
	for _, host := range slices.Sorted(maps.Keys(b.services)) {
		for _, w := range wildcards {
			if !schema.HostCovers(w, host) {
				continue
			}
			covering[w] = true
			for _, r := range rules[w] {
				if !slices.ContainsFunc(rules[host], func(x *destRule) bool { return x.namespace() == r.namespace() }) {
					rules[host] = append(rules[host], r)
				}
			}
		}
	}
	for _, w := range wildcards {
		if !covering[w] {
			for _, r := range rules[w] {
				b.warnf(r.docs[0], "spec.host", "host %q covers no service declared by a ServiceEntry or Service: this DestinationRule applies to nothing", w)
			}
		}
	}
}
