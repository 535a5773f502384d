package compiler

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// The translation of one AuthorizationPolicy into RBAC policies follows Istio's
// (pilot/pkg/security/authz/model): a policy per rule, named "ns[NS]-policy[NAME]-rule[I]"; a
// permission per `to` and a principal per `from` (one matching everything when there are none),
// each the AND of its fields, in Istio's order (principals, requestPrincipals, serviceAccounts,
// namespaces, remoteIpBlocks, ipBlocks on a principal), followed by the `when` conditions of its side; the values of a field ORed, its
// not-form negated.

// authzPolicies translates a policy that checkAuthorizationPolicy accepted for one gateway role
// (a policy matching request tokens depends on the role's issuers). What the role cannot enforce
// is reported, and the policy left out.
func (b *builder) authzPolicies(d *schema.Document, scope jwtScope) []*ir.RBACPolicy {
	ap := d.Spec.(*schema.AuthorizationPolicy)
	if len(ap.Rules) == 0 {
		// Istio's explicit never-matching policy: an ALLOW policy without rules allows nothing
		// (validation refuses a DENY policy without rules).
		return []*ir.RBACPolicy{{Name: rbacPolicyName(d, 0), MatchNever: true}}
	}
	n := len(b.findings)
	var out []*ir.RBACPolicy
	for i, r := range ap.Rules {
		var basePermission, basePrincipal []ir.RBACCondition
		for j, c := range r.When {
			if isJWTKey(c.Key) {
				path := fmt.Sprintf("spec.rules[%d].when[%d].key", i, j)
				basePrincipal = appendCondition(basePrincipal, b.jwtCondition(d, path, c, scope))
				continue
			}
			if cond, ok := peerWhenCondition(d, c); ok {
				basePrincipal = appendCondition(basePrincipal, cond)
				continue
			}
			cond := whenCondition(c)
			switch c.Key {
			case "destination.ip", "destination.port", "connection.sni":
				basePermission = appendCondition(basePermission, cond)
			default:
				basePrincipal = appendCondition(basePrincipal, cond)
			}
		}
		p := &ir.RBACPolicy{Name: rbacPolicyName(d, i)}
		for _, to := range r.To {
			var conds []ir.RBACCondition
			if op := to.Operation; op != nil {
				conds = appendCondition(conds, headerCondition(":authority", op.Hosts, op.NotHosts, hostValue))
				conds = appendCondition(conds, headerCondition(":method", op.Methods, op.NotMethods, headerValue))
				conds = appendCondition(conds, condition(ir.RBACPath, op.Paths, op.NotPaths, stringValue))
				conds = appendCondition(conds, condition(ir.RBACDestinationPort, op.Ports, op.NotPorts, portValue))
			}
			p.Permissions = append(p.Permissions, ir.RBACRule{Conditions: append(conds, basePermission...)})
		}
		if len(r.To) == 0 {
			p.Permissions = []ir.RBACRule{{Conditions: basePermission}}
		}
		for j, from := range r.From {
			var conds []ir.RBACCondition
			if src := from.Source; src != nil {
				path := fmt.Sprintf("spec.rules[%d].from[%d].source", i, j)
				conds = appendCondition(conds, peerPrincipals(src))
				conds = appendCondition(conds, b.requestPrincipalCondition(d, path, src, scope))
				conds = append(conds, peerAccountsAndNamespaces(d, src)...)
				conds = appendCondition(conds, condition(ir.RBACRemoteIP, src.RemoteIPBlocks, src.NotRemoteIPBlocks, cidrValue))
				conds = appendCondition(conds, condition(ir.RBACDirectRemoteIP, src.IPBlocks, src.NotIPBlocks, cidrValue))
			}
			p.Principals = append(p.Principals, ir.RBACRule{Conditions: append(conds, basePrincipal...)})
		}
		if len(r.From) == 0 {
			p.Principals = []ir.RBACRule{{Conditions: basePrincipal}}
		}
		out = append(out, p)
	}
	if schema.HasErrors(b.findings[n:]) {
		return nil
	}
	return out
}

func rbacPolicyName(d *schema.Document, rule int) string {
	return fmt.Sprintf("ns[%s]-policy[%s]-rule[%d]", d.Namespace, d.Name, rule)
}

// appendCondition drops a condition without values, as Istio skips an unset field.
func appendCondition(conds []ir.RBACCondition, c ir.RBACCondition) []ir.RBACCondition {
	if len(c.Values) == 0 && len(c.NotValues) == 0 {
		return conds
	}
	return append(conds, c)
}

func condition(attr string, values, notValues []string, conv func(string) ir.RBACValue) ir.RBACCondition {
	c := ir.RBACCondition{Attribute: attr}
	for _, v := range values {
		c.Values = append(c.Values, conv(v))
	}
	for _, v := range notValues {
		c.NotValues = append(c.NotValues, conv(v))
	}
	return c
}

func headerCondition(name string, values, notValues []string, conv func(string) ir.RBACValue) ir.RBACCondition {
	c := condition(ir.RBACHeader, values, notValues, conv)
	c.Header = name
	return c
}

// whenCondition translates a condition whose key checkAuthorizationPolicy accepted, other than
// the request token's (jwtCondition).
func whenCondition(c schema.Condition) ir.RBACCondition {
	switch c.Key {
	case "source.ip":
		return condition(ir.RBACDirectRemoteIP, c.Values, c.NotValues, cidrValue)
	case "remote.ip":
		return condition(ir.RBACRemoteIP, c.Values, c.NotValues, cidrValue)
	case "destination.ip":
		return condition(ir.RBACDestinationIP, c.Values, c.NotValues, cidrValue)
	case "destination.port":
		return condition(ir.RBACDestinationPort, c.Values, c.NotValues, portValue)
	case "connection.sni":
		return condition(ir.RBACServerName, c.Values, c.NotValues, stringValue)
	default: // request.headers[NAME]
		name := strings.TrimSuffix(strings.TrimPrefix(c.Key, "request.headers["), "]")
		return headerCondition(name, c.Values, c.NotValues, headerValue)
	}
}

// stringValue is Istio's StringMatcher: "*" any non-empty value (regex ".+"), "*x" a suffix,
// "x*" a prefix, anything else exact.
func stringValue(v string) ir.RBACValue {
	switch {
	case v == "*":
		return ir.RBACValue{Kind: ir.MatchRegex, Value: ".+"}
	case strings.HasPrefix(v, "*"):
		return ir.RBACValue{Kind: ir.MatchSuffix, Value: v[1:]}
	case strings.HasSuffix(v, "*"):
		return ir.RBACValue{Kind: ir.MatchPrefix, Value: v[:len(v)-1]}
	default:
		return ir.RBACValue{Kind: ir.MatchExact, Value: v}
	}
}

// headerValue is Istio's HeaderMatcher: "*" is the header's presence, anything else a
// stringValue.
func headerValue(v string) ir.RBACValue {
	if v == "*" {
		return ir.RBACValue{Kind: ir.MatchPresent}
	}
	return stringValue(v)
}

// hostValue is Istio's HostMatcher: a headerValue that ignores case, as host names do.
func hostValue(v string) ir.RBACValue {
	m := headerValue(v)
	m.IgnoreCase = m.Kind != ir.MatchPresent
	return m
}

// cidrValue is Istio's AddrStrToCidrRange: a CIDR as written (the address is not masked), a
// bare address as /32 or /128. Validation has checked the syntax.
func cidrValue(v string) ir.RBACValue {
	if p, err := netip.ParsePrefix(v); err == nil {
		return ir.RBACValue{Address: p.Addr().String(), PrefixLen: uint32(p.Bits())}
	}
	a, _ := netip.ParseAddr(v)
	return ir.RBACValue{Address: a.String(), PrefixLen: uint32(a.BitLen())}
}

// portValue: validation has checked the number.
func portValue(v string) ir.RBACValue {
	n, _ := strconv.ParseUint(v, 10, 32)
	return ir.RBACValue{Port: uint32(n)}
}
