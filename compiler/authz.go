package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// authorize gives each gateway role the AuthorizationPolicies that reach it (reach), translated
// for that role: conditions on request tokens match the payloads of the issuers whose
// RequestAuthentications reach the role (issuers, from authenticate). The role's HTTP listeners
// enforce them with HTTP RBAC filters, its TCP listeners with network RBAC filters of what a
// connection can be tested on (authztcp.go).
func (b *builder) authorize(roles []*ir.Role, issuers map[*ir.Role][]string) {
	allow := map[*ir.Role][]*ir.RBACPolicy{}
	deny := map[*ir.Role][]*ir.RBACPolicy{}
	allowTCP := map[*ir.Role][]*ir.RBACPolicy{}
	denyTCP := map[*ir.Role][]*ir.RBACPolicy{}
	// hasAllow: an ALLOW policy reaches the role, even when none of its rules holds for TCP.
	hasAllow := map[*ir.Role]bool{}
	for _, d := range b.docs(schema.KindAuthorizationPolicy) {
		ap := d.Spec.(*schema.AuthorizationPolicy)
		if !b.checkAuthorizationPolicy(d, ap) {
			continue
		}
		for _, r := range b.reach(d, ap.Selector, roles) {
			b.peerIdentityWithoutClientCerts(d, ap, r)
			policies := b.authzPolicies(d, jwtScope{role: r, issuers: issuers[r]})
			if policies == nil {
				continue
			}
			tcp := tcpListeners(r)
			if tcp != "" {
				b.warnHTTPOnlyOnTCP(d, ap, r, tcp)
			}
			if ap.Action == "DENY" {
				deny[r] = append(deny[r], policies...)
				denyTCP[r] = append(denyTCP[r], forTCP(policies, true)...)
			} else {
				allow[r] = append(allow[r], policies...)
				allowTCP[r] = append(allowTCP[r], forTCP(policies, false)...)
				hasAllow[r] = true
			}
		}
	}
	for _, r := range roles {
		if len(deny[r]) == 0 && !hasAllow[r] {
			continue
		}
		http := &ir.Authorization{Deny: rbacOf(deny[r], false), Allow: rbacOf(allow[r], hasAllow[r])}
		tcp := &ir.Authorization{Deny: rbacOf(denyTCP[r], false), Allow: rbacOf(allowTCP[r], hasAllow[r])}
		for _, l := range r.Listeners {
			if l.ForwardsConnections() {
				l.Authorization = tcp
			} else {
				l.Authorization = http
			}
		}
	}
}

// rbacOf is one RBAC filter's policies; applies keeps the filter without policies, which
// matches nothing (an ALLOW filter whose policies were all left out for TCP still refuses).
func rbacOf(policies []*ir.RBACPolicy, applies bool) *ir.RBAC {
	if len(policies) == 0 && !applies {
		return nil
	}
	slices.SortFunc(policies, func(a, c *ir.RBACPolicy) int { return strings.Compare(a.Name, c.Name) })
	return &ir.RBAC{Policies: policies}
}

// checkAuthorizationPolicy reports what signalbox cannot enforce of an AuthorizationPolicy:
// attachment by targetRef, the AUDIT and CUSTOM actions, the deprecated trustDomains, path
// templates and unknown condition keys. Request tokens (requestPrincipals, request.auth.*) are
// checked per gateway role by the translation (authzjwt.go); so are peer identities
// (authzpeer.go), which only listeners asking for client certificates can see.
func (b *builder) checkAuthorizationPolicy(d *schema.Document, ap *schema.AuthorizationPolicy) bool {
	n := len(b.findings)
	b.refuseTargetRefs(d, ap.TargetRef, ap.TargetRefs)
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
			case isJWTKey(c.Key), isPeerKey(c.Key):
			default:
				b.unsupportedf(d, fmt.Sprintf("%s.when[%d].key", p, j), "%s", c.Key)
			}
		}
	}
	return len(b.findings) == n
}

func (b *builder) checkSource(d *schema.Document, path string, s *schema.Source) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"trustDomains", len(s.TrustDomains) > 0},
		{"notTrustDomains", len(s.NotTrustDomains) > 0},
	} {
		if f.set {
			b.unsupportedf(d, path+"."+f.name, "deprecated by Istio: match the trust domain in principals")
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

// refuseTargetRefs reports a security policy attached by targetRef(s): signalbox attaches
// policies to gateways by selector only (reach.go).
func (b *builder) refuseTargetRefs(d *schema.Document, ref *schema.PolicyTargetReference, refs []schema.PolicyTargetReference) {
	if ref != nil {
		b.unsupportedf(d, "spec.targetRef", "policies attach to gateways by selector")
	}
	if len(refs) > 0 {
		b.unsupportedf(d, "spec.targetRefs", "policies attach to gateways by selector")
	}
}
