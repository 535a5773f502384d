package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// rootNamespace is Istio's default root namespace: a policy there applies mesh-wide.
const rootNamespace = "istio-system"

// reach returns the gateway roles a security policy (AuthorizationPolicy, RequestAuthentication)
// applies to. signalbox proxies are gateways or outbound-only sidecars: none receives a
// workload's inbound traffic, where Istio enforces most policies. So a policy applies to a
// gateway role when it is in the root namespace or in the namespace of one of the role's
// Gateways, and its selector picks proxies of the role (every matchLabels pair is in the role's
// Gateway selector, which every proxy taking the role carries). A policy that applies to no role
// is refused rather than published with nobody enforcing it.
func (b *builder) reach(d *schema.Document, sel *schema.WorkloadSelector, roles []*ir.Role) []*ir.Role {
	var selector map[string]string
	if sel != nil {
		selector = sel.MatchLabels
	}
	namespaces := b.gatewayNamespaces()
	var out []*ir.Role
	var candidates []string // the selectors of the gateways in reach of the namespace
	for _, r := range roles {
		if d.Namespace != rootNamespace && !namespaces[r.Name][d.Namespace] {
			continue
		}
		candidates = append(candidates, labelList(r.Selector))
		if selects(selector, r.Selector) { // every policy label is in the Gateway selector
			out = append(out, r)
		}
	}
	const why = "the policy would apply to workloads' inbound traffic, which signalbox proxies do not receive"
	switch {
	case len(out) > 0 && d.Namespace == rootNamespace && len(selector) == 0:
		b.warnf(d, "metadata.namespace", "a root namespace policy without selector applies mesh-wide, "+
			"but signalbox enforces it at gateways only (its proxies receive no workload's inbound traffic)")
	case len(out) > 0:
	case len(candidates) == 0 && d.Namespace == rootNamespace:
		b.unsupportedf(d, "metadata.namespace", "the tree has no Gateway with a selector: %s", why)
	case len(candidates) == 0:
		b.unsupportedf(d, "metadata.namespace", "no Gateway with a selector in namespace %q: %s", d.Namespace, why)
	default:
		// A gateway's proxies are known by its Gateway's selector alone: a label they carry
		// besides (app=istio-ingressgateway beside istio=ingressgateway) must be added there.
		b.unsupportedf(d, "spec.selector.matchLabels", "no Gateway selector carries %s (the Gateways here select %s): %s; "+
			"if gateway proxies carry %s, add it to their Gateway's selector",
			labelList(selector), strings.Join(candidates, "; "), why, labelList(selector))
	}
	return out
}

// gatewayNamespaces maps each gateway role's name to the namespaces of its Gateways (the
// grouping of gatewayRoles).
func (b *builder) gatewayNamespaces() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, d := range b.docs(schema.KindGateway) {
		gw := d.Spec.(*schema.Gateway)
		if len(gw.Selector) == 0 {
			continue
		}
		name := "gateway/" + canonicalSelector(gw.Selector)
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		out[name][d.Namespace] = true
	}
	return out
}

func labelList(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ", ")
}

func (b *builder) warnf(d *schema.Document, path, format string, args ...any) {
	b.findings = append(b.findings, d.Finding(schema.SeverityWarning, path, path+": "+fmt.Sprintf(format, args...)))
}
