package compiler

import (
	"fmt"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// AuthorizationPolicies on a gateway's TCP listeners, as Istio's BuildTCP translates them
// (pilot/pkg/security/authz/builder, model.Generate with forTCP): the same RBAC policies, enforced
// on each connection by Envoy's network RBAC filter. Hosts, methods, paths, request headers and
// request tokens exist only on HTTP requests, so their generators fail for TCP, and Istio's
// checkError decides what that failure costs: for an ALLOW policy the whole rule is left out (a
// smaller allow), for a DENY policy only the failing condition is, the rest of the rule still
// denying (a wider deny). An ALLOW policy whose rules were all left out still counts: the
// listener then has an ALLOW filter without policies, which allows no connection.

// tcpOnly reports the RBAC attributes a connection can be tested on.
func tcpOnly(attr string) bool {
	switch attr {
	case ir.RBACHeader, ir.RBACPath, ir.RBACJWT:
		return false
	}
	return true
}

// forTCP derives a policy's RBAC policies for TCP listeners from its HTTP ones.
func forTCP(policies []*ir.RBACPolicy, deny bool) []*ir.RBACPolicy {
	var out []*ir.RBACPolicy
	for _, p := range policies {
		if p.MatchNever {
			out = append(out, p)
			continue
		}
		q := &ir.RBACPolicy{Name: p.Name}
		dropped := false
		keep := func(rules []ir.RBACRule) []ir.RBACRule {
			var kept []ir.RBACRule
			for _, r := range rules {
				var conds []ir.RBACCondition
				for _, c := range r.Conditions {
					if tcpOnly(c.Attribute) {
						conds = append(conds, c)
					} else {
						dropped = true
					}
				}
				kept = append(kept, ir.RBACRule{Conditions: conds})
			}
			return kept
		}
		q.Permissions = keep(p.Permissions)
		q.Principals = keep(p.Principals)
		if dropped && !deny {
			continue
		}
		out = append(out, q)
	}
	return out
}

// tcpListeners names a role's TCP listeners ("port N (listener NAME)"), "" when it has none.
func tcpListeners(r *ir.Role) string {
	var out []string
	for _, l := range r.Listeners {
		if l.ForwardsConnections() {
			out = append(out, fmt.Sprintf("port %d (listener %s)", l.Port, l.Name))
		}
	}
	return strings.Join(out, ", ")
}

// httpOnlyFields lists the fields of a rule that only HTTP requests have: their paths, and
// their names for a message.
func httpOnlyFields(i int, r schema.AuthorizationRule) (paths, names []string) {
	add := func(path, name string) {
		paths = append(paths, path)
		names = append(names, name)
	}
	p := fmt.Sprintf("spec.rules[%d]", i)
	for j, f := range r.From {
		if s := f.Source; s != nil {
			sp := fmt.Sprintf("%s.from[%d].source", p, j)
			if len(s.RequestPrincipals) > 0 {
				add(sp+".requestPrincipals", "requestPrincipals")
			}
			if len(s.NotRequestPrincipals) > 0 {
				add(sp+".notRequestPrincipals", "notRequestPrincipals")
			}
		}
	}
	for j, t := range r.To {
		op := t.Operation
		if op == nil {
			continue
		}
		tp := fmt.Sprintf("%s.to[%d].operation", p, j)
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"hosts", len(op.Hosts) > 0}, {"notHosts", len(op.NotHosts) > 0},
			{"methods", len(op.Methods) > 0}, {"notMethods", len(op.NotMethods) > 0},
			{"paths", len(op.Paths) > 0}, {"notPaths", len(op.NotPaths) > 0},
		} {
			if f.set {
				add(tp+"."+f.name, f.name)
			}
		}
	}
	for j, c := range r.When {
		if isJWTKey(c.Key) || strings.HasPrefix(c.Key, "request.headers[") {
			add(fmt.Sprintf("%s.when[%d].key", p, j), c.Key)
		}
	}
	return paths, names
}

// warnHTTPOnlyOnTCP tells, per rule, what a role's TCP listeners make of its HTTP-only fields,
// at the first of them.
func (b *builder) warnHTTPOnlyOnTCP(d *schema.Document, ap *schema.AuthorizationPolicy, r *ir.Role, listeners string) {
	for i, rule := range ap.Rules {
		paths, names := httpOnlyFields(i, rule)
		if len(paths) == 0 {
			continue
		}
		effect := "this ALLOW rule is left out and allows no connection"
		if ap.Action == "DENY" {
			effect = "these conditions are left out and the rest of this DENY rule still denies (a wider deny)"
		}
		b.warnf(d, paths[0], "%s: only HTTP requests have them; gateway %s forwards TCP on %s, where %s, as in Istio",
			strings.Join(names, ", "), strings.TrimPrefix(r.Name, "gateway/"), listeners, effect)
	}
}
