package compiler

import (
	"fmt"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// AuthorizationPolicy conditions on the peer's mTLS identity (principals, namespaces,
// serviceAccounts and the source.principal, source.namespace and source.serviceAccount keys),
// translated as Istio's generators do (pilot/pkg/security/authz/model/generator.go): each is a
// match of the identity in the client certificate (its SPIFFE URI SAN,
// "spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT"), Envoy's authenticated principal_name. A
// gateway learns a peer's identity only from a client certificate: on a listener that asks for
// none (not MUTUAL or OPTIONAL_MUTUAL), no peer has one and such a condition never holds, which
// peerIdentityWithoutClientCerts warns about.

const spiffePrefix = "spiffe://"

// principalValue is Istio's srcPrincipalGenerator: StringMatcherWithPrefix(value, "spiffe://").
func principalValue(v string) ir.RBACValue {
	switch {
	case v == "*":
		return ir.RBACValue{Kind: ir.MatchRegex, Value: ".+"}
	case strings.HasPrefix(v, "*"):
		return ir.RBACValue{Kind: ir.MatchRegex, Value: spiffePrefix + ".*" + v[1:]}
	case strings.HasSuffix(v, "*"):
		return ir.RBACValue{Kind: ir.MatchPrefix, Value: spiffePrefix + v[:len(v)-1]}
	default:
		return ir.RBACValue{Kind: ir.MatchExact, Value: spiffePrefix + v}
	}
}

// namespaceValue is Istio's srcNamespaceGenerator: the identity's /ns/ segment.
func namespaceValue(v string) ir.RBACValue {
	return ir.RBACValue{Kind: ir.MatchRegex, Value: ".*/ns/" + strings.ReplaceAll(v, "*", ".*") + "/.*"}
}

// serviceAccountValue is Istio's serviceAccountRegex: "NAME" (in the policy's namespace) or
// "NAMESPACE/NAME".
func serviceAccountValue(policyNamespace string) func(string) ir.RBACValue {
	return func(v string) ir.RBACValue {
		ns, sa, ok := strings.Cut(v, "/")
		if !ok {
			ns, sa = policyNamespace, v
		}
		return ir.RBACValue{Kind: ir.MatchRegex, Value: fmt.Sprintf("spiffe://.+/ns/%s/(.+/|)sa/%s(/.+)?", ns, sa)}
	}
}

// peerPrincipals and peerAccountsAndNamespaces are a source's identity conditions, in Istio's
// order around requestPrincipals: principals first, then serviceAccounts and namespaces.
func peerPrincipals(s *schema.Source) ir.RBACCondition {
	return condition(ir.RBACPeerPrincipal, s.Principals, s.NotPrincipals, principalValue)
}

func peerAccountsAndNamespaces(d *schema.Document, s *schema.Source) []ir.RBACCondition {
	return appendCondition(appendCondition(nil,
		condition(ir.RBACPeerPrincipal, s.ServiceAccounts, s.NotServiceAccounts, serviceAccountValue(d.Namespace))),
		condition(ir.RBACPeerPrincipal, s.Namespaces, s.NotNamespaces, namespaceValue))
}

// peerWhenCondition translates the source.principal, source.namespace and
// source.serviceAccount keys; ok is false for other keys.
func peerWhenCondition(d *schema.Document, c schema.Condition) (ir.RBACCondition, bool) {
	switch c.Key {
	case "source.principal":
		return condition(ir.RBACPeerPrincipal, c.Values, c.NotValues, principalValue), true
	case "source.namespace":
		return condition(ir.RBACPeerPrincipal, c.Values, c.NotValues, namespaceValue), true
	case "source.serviceAccount":
		return condition(ir.RBACPeerPrincipal, c.Values, c.NotValues, serviceAccountValue(d.Namespace)), true
	}
	return ir.RBACCondition{}, false
}

func isPeerKey(key string) bool {
	return key == "source.principal" || key == "source.namespace" || key == "source.serviceAccount"
}

// usesPeerIdentity reports the first place a policy's rules test the peer's identity ("" none).
func usesPeerIdentity(ap *schema.AuthorizationPolicy) string {
	for i, r := range ap.Rules {
		for j, f := range r.From {
			if s := f.Source; s != nil && len(s.Principals)+len(s.NotPrincipals)+len(s.Namespaces)+
				len(s.NotNamespaces)+len(s.ServiceAccounts)+len(s.NotServiceAccounts) > 0 {
				return fmt.Sprintf("spec.rules[%d].from[%d].source", i, j)
			}
		}
		for j, c := range r.When {
			if isPeerKey(c.Key) {
				return fmt.Sprintf("spec.rules[%d].when[%d].key", i, j)
			}
		}
	}
	return ""
}

// peerIdentityWithoutClientCerts warns when a policy that tests the peer's identity reaches a
// gateway role with listeners that ask for no client certificate: there its identity conditions
// never hold (an ALLOW rule on them allows nothing there, a DENY rule denies nothing), as in
// Istio without mTLS.
func (b *builder) peerIdentityWithoutClientCerts(d *schema.Document, ap *schema.AuthorizationPolicy, r *ir.Role) {
	path := usesPeerIdentity(ap)
	if path == "" {
		return
	}
	var ports []string
	for _, l := range r.Listeners {
		if l.TLS == nil || l.TLS.CACertificates == "" {
			ports = append(ports, itoa(l.Port))
		}
	}
	if len(ports) == 0 {
		return
	}
	b.findings = append(b.findings, d.Finding(schema.SeverityWarning, path, fmt.Sprintf(
		"%s: the peer's identity comes from its client certificate, and gateway %s asks for none on port %s: there this condition never holds",
		path, strings.TrimPrefix(r.Name, "gateway/"), strings.Join(ports, ", "))))
}
