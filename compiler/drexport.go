package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// ruleVariant is one DestinationRule of a host, the rules of one namespace merged (rule nil:
// none, the plain clusters), with the proxy namespaces that take it.
type ruleVariant struct {
	rule  *destRule
	scope *ir.NamespaceScope
	// entry is the ServiceEntry whose clusters the variant is, for a host several namespaces
	// declare (seexport.go); nil: the host's one.
	entry *service
}

// entryOf is the entry whose clusters the variant is: v.entry, or the host's svc.
func (v *ruleVariant) entryOf(svc *service) *service {
	if v.entry != nil {
		return v.entry
	}
	return svc
}

func (v *ruleVariant) subsets() []ruleSubset {
	if v.rule == nil {
		return nil
	}
	return v.rule.subsets
}

func (v *ruleVariant) hasSubset(name string) bool {
	return v.rule != nil && v.rule.subset(name) != nil
}

// name describes the variant's DestinationRule for a finding.
func (v *ruleVariant) name() string {
	if v.rule == nil {
		return "no DestinationRule"
	}
	return v.rule.name()
}

// entryVariants is the variants of a host several namespaces declare: each entry's own
// (ruleVariants, by the namespace of the entry, as Istio's PushContext.destinationRule looks
// in the namespace of the service the proxy sees), each for the namespaces that are served
// that entry's clusters too; a variant for no namespace is left out.
func entryVariants(svc *service, rules []*destRule) []ruleVariant {
	var out []ruleVariant
	for _, e := range svc.entries {
		vs := []ruleVariant{{}}
		if len(rules) > 0 {
			vs = ruleVariants(e, rules)
		}
		for _, v := range vs {
			v.scope, v.entry = intersectScopes(v.scope, e.scope), e
			if emptyScope(v.scope) {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// ruleFor is the DestinationRule a proxy in namespace ns takes for the service among rules
// (one per namespace, merged), as Istio's PushContext.destinationRule chooses it: its own namespace's
// (a rule is always visible in its namespace), else the service's namespace's if exported to
// ns, else the root namespace's if exported to ns, else none. elsewhere stands for every
// namespace no rule names: it has no rule of its own and sees only rules exported to "*".
func ruleFor(svc *service, rules []*destRule, ns string, elsewhere bool) *destRule {
	in := func(namespace string) *destRule {
		for _, r := range rules {
			if r.namespace() == namespace {
				return r
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
		r := in(owner)
		if r == nil {
			continue
		}
		exported := schema.ExportedTo(r.namespace(), r.exportTo())
		if exported == nil || !elsewhere && slices.Contains(exported, ns) {
			return r
		}
	}
	return nil
}

// ruleVariants splits a service's proxies by the DestinationRule each namespace takes
// (ruleFor): one variant per rule some namespace takes, and the plain one if some takes none;
// the variant every unnamed namespace takes is Elsewhere. Variants come in a fixed order: the
// plain one first, then by the rule's namespace.
func ruleVariants(svc *service, rules []*destRule) []ruleVariant {
	named := []string{svc.doc.Namespace, rootNamespace}
	for _, r := range rules {
		named = append(named, r.namespace())
		named = append(named, schema.ExportedTo(r.namespace(), r.exportTo())...)
	}
	named = slices.DeleteFunc(named, func(ns string) bool { return ns == "~" })
	split := splitNamespaces(named, func(ns string, elsewhere bool) *destRule { return ruleFor(svc, rules, ns, elsewhere) })
	all := append([]*destRule{nil}, rules...)
	slices.SortStableFunc(all[1:], func(a, b *destRule) int { return strings.Compare(a.namespace(), b.namespace()) })
	var out []ruleVariant
	for _, r := range all {
		if scope := split.scope(r); scope != nil {
			out = append(out, ruleVariant{rule: r, scope: scope})
		}
	}
	return out
}

// checkVariantRule refuses what a DestinationRule chosen by namespace asks that signalbox puts
// outside the clusters: a consistent hash is a route's hash policy, and routes are not chosen
// by the rule a namespace sees.
// A merged rule is checked in the parts it keeps, each where it was written.
func (b *builder) checkVariantRule(r *destRule) {
	check := func(d *schema.Document, tp *schema.TrafficPolicy, path string) {
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
	check(r.policyDoc, r.policy, "spec.trafficPolicy")
	for _, s := range r.subsets {
		check(s.doc, s.TrafficPolicy, s.path()+".trafficPolicy")
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
		if v.rule == nil {
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
