package analysis

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// Run analyses a tree that passed schema validation and returns its findings ordered by
// position. A tree with schema errors should not be analysed: the documents missing from it
// would show up here as undeclared hosts.
func Run(tree *schema.Tree) []schema.Finding {
	a := &analyzer{idx: buildIndex(tree)}
	for _, d := range tree.Documents {
		switch d.Kind {
		case schema.KindVirtualService:
			a.virtualService(d)
		case schema.KindDestinationRule:
			a.destinationRule(d)
		case schema.KindGateway:
			a.gateway(d)
		case schema.KindAuthorizationPolicy:
			if p := d.Spec.(*schema.AuthorizationPolicy); p.TargetRef == nil && len(p.TargetRefs) == 0 {
				a.workloadPolicy(d, p.Selector)
			}
		case schema.KindPeerAuthentication:
			a.workloadPolicy(d, d.Spec.(*schema.PeerAuthentication).Selector)
		}
	}
	schema.SortFindings(a.findings)
	return a.findings
}

type analyzer struct {
	idx      *index
	findings []schema.Finding
}

func (a *analyzer) report(d *schema.Document, code, path, format string, args ...any) {
	r, _ := RuleFor(code)
	f := d.Finding(r.Severity, path, fmt.Sprintf(format, args...))
	f.Code = code
	a.findings = append(a.findings, f)
}

// virtualService checks what one VirtualService refers to (hosts, subsets, gateways), what it
// claims (SB0004), the order of its rules (SB0005, SB0006) and their weights (SB0011).
func (a *analyzer) virtualService(d *schema.Document) {
	vs := d.Spec.(*schema.VirtualService)
	gateways := boundGateways(d.Namespace, vs.Gateways)
	for i, g := range gateways {
		if g != meshGateway && !a.idx.gateways[g] {
			a.report(d, CodeUnknownGateway, fmt.Sprintf("spec.gateways[%d]", i),
				"gateway %q does not exist: no Gateway %s is declared", vs.Gateways[i], g)
		}
	}
	a.hostsOnGateways(d, vs, gateways)
	for i, h := range vs.Hosts {
		if len(vs.HTTP) == 0 {
			break // only http rules claim hosts (index.go)
		}
		host := expandHost(h, d.Namespace)
		for _, g := range gateways {
			if !a.idx.takes(g, host, d.Namespace) {
				continue // no claim there (SB0012 says so)
			}
			claimed := a.idx.claims[claimKey{gateway: g, host: host}]
			if g != meshGateway {
				// Istio merges the VirtualServices bound to a gateway for one host (IST0109
				// is for the mesh only): what is lost is a later one behind a catch-all.
				a.mergedAfterCatchAll(d, i, host, g, claimed)
				continue
			}
			prev := claimed.earlierSeenWith(d)
			if prev == nil {
				continue
			}
			a.report(d, CodeConflictingHost, fmt.Sprintf("spec.hosts[%d]", i),
				"host %q on the mesh is already claimed by VirtualService %s/%s", host, prev.Namespace, prev.Name)
		}
	}
	for i, rule := range vs.HTTP {
		for k, rd := range rule.Route {
			a.destination(d, fieldRef{"spec.http[%d].route[%d].destination", i, k}, rd.Destination)
			if rd.Weight == nil && len(rule.Route) > 1 {
				a.unweighted(d, fieldRef{"spec.http[%d].route[%d]", i, k}, rd.Destination)
			}
		}
		if rule.Mirror != nil {
			a.destination(d, fieldRef{"spec.http[%d].mirror", i, -1}, *rule.Mirror)
		}
		for k, m := range rule.Mirrors {
			a.destination(d, fieldRef{"spec.http[%d].mirrors[%d].destination", i, k}, m.Destination)
		}
	}
	for i, rule := range vs.TLS {
		for k, rd := range rule.Route {
			a.destination(d, fieldRef{"spec.tls[%d].route[%d].destination", i, k}, rd.Destination)
			if rd.Weight == nil && len(rule.Route) > 1 {
				a.unweighted(d, fieldRef{"spec.tls[%d].route[%d]", i, k}, rd.Destination)
			}
		}
	}
	for i, rule := range vs.TCP {
		for k, rd := range rule.Route {
			a.destination(d, fieldRef{"spec.tcp[%d].route[%d].destination", i, k}, rd.Destination)
			if rd.Weight == nil && len(rule.Route) > 1 {
				a.unweighted(d, fieldRef{"spec.tcp[%d].route[%d]", i, k}, rd.Destination)
			}
		}
	}
	a.ruleOrder(d, vs.HTTP)
}

// fieldRef is a field path not yet formatted: most destinations are fine, and formatting
// every path of a 10,000-document tree would cost more than checking it.
type fieldRef struct {
	format string
	i, k   int // k < 0: the format takes only i
}

func (f fieldRef) String() string {
	if f.k < 0 {
		return fmt.Sprintf(f.format, f.i)
	}
	return fmt.Sprintf(f.format, f.i, f.k)
}

func (a *analyzer) destination(d *schema.Document, ref fieldRef, dst schema.Destination) {
	host := expandHost(dst.Host, d.Namespace)
	if !a.idx.services[host] {
		a.report(d, CodeUndeclaredHost, ref.String()+".host", "destination host %q is not declared by any ServiceEntry or Service", host)
		return
	}
	if dst.Subset == "" {
		return
	}
	subsets, ok := a.idx.subsetsOf(host)
	switch {
	case !ok:
		a.report(d, CodeUndefinedSubset, ref.String()+".subset", "subset %q of host %q is not defined by any DestinationRule (the host has none)", dst.Subset, host)
	case !subsets[dst.Subset]:
		a.report(d, CodeUndefinedSubset, ref.String()+".subset", "subset %q of host %q is not defined by any DestinationRule (defined: %s)",
			dst.Subset, host, strings.Join(sortedSet(subsets), ", "))
	}
}

// mergedAfterCatchAll reports VirtualService d, merged for host at gateway g after prev (their
// routes one after the other, in namespace and name order), when a rule of prev matches every
// request: d's routes there are never reached. Istio orders merged VirtualServices by creation
// time, which a tree does not have, so the author learns the order signalbox uses.
func (a *analyzer) mergedAfterCatchAll(d *schema.Document, i int, host, g string, claimed claimers) {
	seen := schema.ExportedTo(d.Namespace, d.Spec.(*schema.VirtualService).ExportTo)
	for _, prev := range claimed {
		if prev == d {
			return
		}
		if !schema.SeenTogether(schema.ExportedTo(prev.Namespace, prev.Spec.(*schema.VirtualService).ExportTo), seen) {
			continue
		}
		for k, rule := range prev.Spec.(*schema.VirtualService).HTTP {
			if len(rule.Match) > 0 && !slices.ContainsFunc(rule.Match, isCatchAll) {
				continue
			}
			a.report(d, CodeMergedAfterCatchAll, fmt.Sprintf("spec.hosts[%d]", i),
				"host %q at gateway %s is merged with VirtualService %s/%s, whose rule spec.http[%d] at %s matches every request and comes first (merged VirtualServices are ordered by namespace and name): this VirtualService's routes are never used there",
				host, g, prev.Namespace, prev.Name, k, prev.PosOf(fmt.Sprintf("spec.http[%d]", k)))
			return
		}
	}
}

// unweighted reports a destination without a weight among several: schema validation saw that
// some other has a weight above 0, and a missing weight is 0 beside it (Istio's semantics), so
// this destination receives nothing.
func (a *analyzer) unweighted(d *schema.Document, ref fieldRef, dst schema.Destination) {
	name := expandHost(dst.Host, d.Namespace)
	if dst.Subset != "" {
		name += " subset " + dst.Subset
	}
	a.report(d, CodeUnweightedDestination, ref.String(),
		"destination %s has no weight while the route's others have one: it receives no traffic (a missing weight is 0 here); give it a weight, or remove it",
		name)
}

func (a *analyzer) destinationRule(d *schema.Document) {
	dr := d.Spec.(*schema.DestinationRule)
	host := expandHost(dr.Host, d.Namespace)
	if a.idx.services[host] {
		a.subsetEndpoints(d, dr)
		return
	}
	if strings.Contains(host, "*") {
		return
	}
	a.report(d, CodeOrphanRule, "spec.host", "host %q is not declared by any ServiceEntry or Service: this DestinationRule applies to nothing", host)
}

func (a *analyzer) gateway(d *schema.Document) {
	ref := d.Namespace + "/" + d.Name
	if !a.idx.boundGateways[ref] {
		a.report(d, CodeUnusedGateway, "metadata.name",
			"no VirtualService is bound to gateway %s: it routes nothing (bind one with spec.gateways: [%s])", ref, gatewayRefFor(d))
	}
}

func gatewayRefFor(d *schema.Document) string {
	if d.Namespace == "default" {
		return d.Name
	}
	return d.Namespace + "/" + d.Name
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
