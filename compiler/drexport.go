package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// ruleVariant is one DestinationRule of a host (doc nil: none, the plain clusters) with the
// proxy namespaces that take it.
type ruleVariant struct {
	doc   *schema.Document
	scope *ir.NamespaceScope
}

func (v *ruleVariant) subsets() []schema.Subset {
	if v.doc == nil {
		return nil
	}
	return v.doc.Spec.(*schema.DestinationRule).Subsets
}

func (v *ruleVariant) hasSubset(name string) bool {
	return slices.ContainsFunc(v.subsets(), func(x schema.Subset) bool { return x.Name == name })
}

// name describes the variant's DestinationRule for a finding.
func (v *ruleVariant) name() string {
	if v.doc == nil {
		return "no DestinationRule"
	}
	return fmt.Sprintf("DestinationRule %s/%s", v.doc.Namespace, v.doc.Name)
}

// ruleFor is the DestinationRule a proxy in namespace ns takes for the service among rules
// (one per namespace), as Istio's PushContext.destinationRule chooses it: its own namespace's
// (a rule is always visible in its namespace), else the service's namespace's if exported to
// ns, else the root namespace's if exported to ns, else none. elsewhere stands for every
// namespace no rule names: it has no rule of its own and sees only rules exported to "*".
func ruleFor(svc *service, rules []*schema.Document, ns string, elsewhere bool) *schema.Document {
	in := func(namespace string) *schema.Document {
		for _, d := range rules {
			if d.Namespace == namespace {
				return d
			}
		}
		return nil
	}
	if !elsewhere {
		if d := in(ns); d != nil {
			return d
		}
	}
	for _, owner := range []string{svc.doc.Namespace, rootNamespace} {
		d := in(owner)
		if d == nil {
			continue
		}
		exported := schema.ExportedTo(d.Namespace, d.Spec.(*schema.DestinationRule).ExportTo)
		if exported == nil || !elsewhere && slices.Contains(exported, ns) {
			return d
		}
	}
	return nil
}

// ruleVariants splits a service's proxies by the DestinationRule each namespace takes
// (ruleFor): one variant per rule some namespace takes, and the plain one if some takes none;
// the variant every unnamed namespace takes is Elsewhere. Variants come in a fixed order: the
// plain one first, then by the rule's namespace.
func ruleVariants(svc *service, rules []*schema.Document) []ruleVariant {
	named := []string{svc.doc.Namespace, rootNamespace}
	for _, d := range rules {
		named = append(named, d.Namespace)
		named = append(named, schema.ExportedTo(d.Namespace, d.Spec.(*schema.DestinationRule).ExportTo)...)
	}
	slices.Sort(named)
	named = slices.Compact(named)
	named = slices.DeleteFunc(named, func(ns string) bool { return ns == "~" })
	byRule := map[*schema.Document][]string{}
	for _, ns := range named {
		d := ruleFor(svc, rules, ns, false)
		byRule[d] = append(byRule[d], ns)
	}
	rest := ruleFor(svc, rules, "", true)
	docs := append([]*schema.Document{nil}, rules...)
	slices.SortStableFunc(docs[1:], func(a, b *schema.Document) int { return strings.Compare(a.Namespace, b.Namespace) })
	var out []ruleVariant
	for _, d := range docs {
		only := byRule[d]
		var scope *ir.NamespaceScope
		switch {
		case d == rest:
			except := slices.DeleteFunc(slices.Clone(named), func(ns string) bool { return slices.Contains(only, ns) })
			scope = &ir.NamespaceScope{Elsewhere: true, Except: except}
		case len(only) > 0:
			scope = &ir.NamespaceScope{Only: only}
		default:
			continue
		}
		out = append(out, ruleVariant{doc: d, scope: scope})
	}
	return out
}

// checkVariantRule refuses what a DestinationRule chosen by namespace asks that signalbox puts
// outside the clusters: a consistent hash is a route's hash policy, and routes are not chosen
// by the rule a namespace sees.
func (b *builder) checkVariantRule(d *schema.Document) {
	dr := d.Spec.(*schema.DestinationRule)
	check := func(tp *schema.TrafficPolicy, path string) {
		if tp == nil {
			return
		}
		const why = "a consistent hash is part of the routes, which are not chosen by the DestinationRule a proxy's namespace sees: with exportTo narrower than \"*\", or several DestinationRules for the host, give no consistentHash"
		if tp.LoadBalancer != nil && tp.LoadBalancer.ConsistentHash != nil {
			b.unsupportedf(d, path+".loadBalancer.consistentHash", why)
		}
		for i, pl := range tp.PortLevelSettings {
			if pl.LoadBalancer != nil && pl.LoadBalancer.ConsistentHash != nil {
				b.unsupportedf(d, fmt.Sprintf("%s.portLevelSettings[%d].loadBalancer.consistentHash", path, i), why)
			}
		}
	}
	check(dr.TrafficPolicy, "spec.trafficPolicy")
	for i, s := range dr.Subsets {
		check(s.TrafficPolicy, fmt.Sprintf("spec.subsets[%d].trafficPolicy", i))
	}
}

// checkSubsetVisible reports a route to a subset that the DestinationRule seen in some
// namespace where the route applies does not define (where: nil for every namespace): Istio's
// proxies there have no such cluster and answer 503.
func (b *builder) checkSubsetVisible(ref destRef, svc *service, where []string, applies string) {
	if ref.subset == "" || svc.variants == nil {
		return
	}
	var parts []string
	for i := range svc.variants {
		v := &svc.variants[i]
		if v.hasSubset(ref.subset) {
			continue
		}
		var nss []string
		switch {
		case where == nil && v.scope.Elsewhere:
			nss = []string{"every namespace"}
			if len(v.scope.Except) > 0 {
				nss = []string{"every namespace but " + strings.Join(v.scope.Except, ", ")}
			}
		case where == nil:
			nss = v.scope.Only
		default:
			for _, ns := range where {
				if v.scope.Has(ns) {
					nss = append(nss, ns)
				}
			}
		}
		if len(nss) == 0 {
			continue
		}
		seen := v.name() + ", which does not define it"
		if v.doc == nil {
			seen = "no DestinationRule, so no subsets"
		}
		parts = append(parts, fmt.Sprintf("proxies in %s see %s", strings.Join(nss, ", "), seen))
	}
	if len(parts) == 0 {
		return
	}
	b.errorf(ref.doc, ref.subsetPath(), "subset %q of host %q is not defined everywhere the route applies (%s): %s; Istio's proxies there have no such cluster and answer 503",
		ref.subset, ref.host, applies, strings.Join(parts, "; "))
}
