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

// authorize gives each gateway role the AuthorizationPolicies that apply to it. signalbox
// proxies are gateways or outbound-only sidecars: none receives a workload's inbound traffic,
// where Istio enforces most policies. So a policy applies to a gateway role when it is in the
// root namespace or in the namespace of one of the role's Gateways, and its selector picks
// proxies of the role (every matchLabels pair is in the role's Gateway selector, which every
// proxy taking the role carries). A policy that applies to no role is refused rather than
// published with nobody enforcing it.
func (b *builder) authorize(roles []*ir.Role) {
	namespaces := b.gatewayNamespaces()
	allow := map[*ir.Role][]*ir.RBACPolicy{}
	deny := map[*ir.Role][]*ir.RBACPolicy{}
	for _, d := range b.docs(schema.KindAuthorizationPolicy) {
		policies := b.authzPolicies(d)
		if policies == nil {
			continue
		}
		ap := d.Spec.(*schema.AuthorizationPolicy)
		var selector map[string]string
		if ap.Selector != nil {
			selector = ap.Selector.MatchLabels
		}
		inNamespace, applied := 0, 0
		for _, r := range roles {
			if d.Namespace != rootNamespace && !namespaces[r.Name][d.Namespace] {
				continue
			}
			inNamespace++
			if !selects(selector, r.Selector) { // every policy label is in the Gateway selector
				continue
			}
			applied++
			if ap.Action == "DENY" {
				deny[r] = append(deny[r], policies...)
			} else {
				allow[r] = append(allow[r], policies...)
			}
		}
		const why = "the policy would apply to workloads' inbound traffic, which signalbox proxies do not receive"
		switch {
		case applied > 0 && d.Namespace == rootNamespace && len(selector) == 0:
			b.warnf(d, "metadata.namespace", "a root namespace policy without selector applies mesh-wide, "+
				"but signalbox enforces it at gateways only (its proxies receive no workload's inbound traffic)")
		case applied > 0:
		case inNamespace == 0 && d.Namespace == rootNamespace:
			b.unsupportedf(d, "metadata.namespace", "the tree has no Gateway with a selector: %s", why)
		case inNamespace == 0:
			b.unsupportedf(d, "metadata.namespace", "no Gateway with a selector in namespace %q: %s", d.Namespace, why)
		default:
			b.unsupportedf(d, "spec.selector.matchLabels", "no Gateway selector carries %s: %s", labelList(selector), why)
		}
	}
	for _, r := range roles {
		if len(deny[r]) == 0 && len(allow[r]) == 0 {
			continue
		}
		a := &ir.Authorization{Deny: rbacOf(deny[r]), Allow: rbacOf(allow[r])}
		for _, l := range r.Listeners {
			l.Authorization = a
		}
	}
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

func rbacOf(policies []*ir.RBACPolicy) *ir.RBAC {
	if len(policies) == 0 {
		return nil
	}
	slices.SortFunc(policies, func(a, c *ir.RBACPolicy) int { return strings.Compare(a.Name, c.Name) })
	return &ir.RBAC{Policies: policies}
}

func (b *builder) warnf(d *schema.Document, path, format string, args ...any) {
	b.findings = append(b.findings, d.Finding(schema.SeverityWarning, path, path+": "+fmt.Sprintf(format, args...)))
}

// checkAuthorizationPolicy reports what signalbox cannot enforce of an AuthorizationPolicy:
// attachment by targetRef, the AUDIT and CUSTOM actions, and every source or condition that
// needs a peer's mTLS identity or a JWT (signalbox has neither yet).
func (b *builder) checkAuthorizationPolicy(d *schema.Document, ap *schema.AuthorizationPolicy) bool {
	n := len(b.findings)
	if ap.TargetRef != nil {
		b.unsupportedf(d, "spec.targetRef", "policies attach to gateways by selector")
	}
	if len(ap.TargetRefs) > 0 {
		b.unsupportedf(d, "spec.targetRefs", "policies attach to gateways by selector")
	}
	switch ap.Action {
	case "", "ALLOW", "DENY":
	case "AUDIT":
		b.unsupportedf(d, "spec.action", "AUDIT needs an audit log provider")
	default:
		b.unsupportedf(d, "spec.action", "%s needs an external authorizer", ap.Action)
	}
	for i, r := range ap.Rules {
		p := fmt.Sprintf("spec.rules[%d]", i)
		for j, f := range r.From {
			if f.Source != nil {
				b.checkSource(d, fmt.Sprintf("%s.from[%d].source", p, j), f.Source)
			}
		}
		for j, t := range r.To {
			if op := t.Operation; op != nil {
				tp := fmt.Sprintf("%s.to[%d].operation", p, j)
				b.checkPathTemplates(d, tp+".paths", op.Paths)
				b.checkPathTemplates(d, tp+".notPaths", op.NotPaths)
			}
		}
		for j, c := range r.When {
			switch {
			case c.Key == "source.ip", c.Key == "remote.ip", c.Key == "destination.ip",
				c.Key == "destination.port", c.Key == "connection.sni":
			case strings.HasPrefix(c.Key, "request.headers[") && strings.HasSuffix(c.Key, "]"):
			case strings.HasPrefix(c.Key, "request.auth."):
				b.unsupportedf(d, fmt.Sprintf("%s.when[%d].key", p, j), "%s needs RequestAuthentication", c.Key)
			case strings.HasPrefix(c.Key, "source."):
				b.unsupportedf(d, fmt.Sprintf("%s.when[%d].key", p, j), "%s needs the peer's mTLS identity", c.Key)
			default:
				b.unsupportedf(d, fmt.Sprintf("%s.when[%d].key", p, j), "%s", c.Key)
			}
		}
	}
	return len(b.findings) == n
}

func (b *builder) checkSource(d *schema.Document, path string, s *schema.Source) {
	for _, f := range []struct {
		name, why string
		set       bool
	}{
		{"principals", "mTLS", len(s.Principals) > 0},
		{"notPrincipals", "mTLS", len(s.NotPrincipals) > 0},
		{"requestPrincipals", "JWT", len(s.RequestPrincipals) > 0},
		{"notRequestPrincipals", "JWT", len(s.NotRequestPrincipals) > 0},
		{"namespaces", "mTLS", len(s.Namespaces) > 0},
		{"notNamespaces", "mTLS", len(s.NotNamespaces) > 0},
		{"serviceAccounts", "mTLS", len(s.ServiceAccounts) > 0},
		{"notServiceAccounts", "mTLS", len(s.NotServiceAccounts) > 0},
		{"trustDomains", "mTLS", len(s.TrustDomains) > 0},
		{"notTrustDomains", "mTLS", len(s.NotTrustDomains) > 0},
	} {
		if !f.set {
			continue
		}
		if f.why == "JWT" {
			b.unsupportedf(d, path+"."+f.name, "it needs RequestAuthentication")
		} else {
			b.unsupportedf(d, path+"."+f.name, "it needs the peer's mTLS identity")
		}
	}
}

// checkPathTemplates refuses Istio's path templates ({*}, {**}): Envoy matches them with its
// uri_template extension, which the signalbox proxy does not have.
func (b *builder) checkPathTemplates(d *schema.Document, path string, paths []string) {
	for i, v := range paths {
		if strings.Contains(v, "{*}") || strings.Contains(v, "{**}") {
			b.unsupportedf(d, fmt.Sprintf("%s[%d]", path, i), "path template %q", v)
		}
	}
}
