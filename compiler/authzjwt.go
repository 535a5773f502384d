package compiler

import (
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// AuthorizationPolicy conditions on the request's verified token (requestPrincipals,
// request.auth.*), as Istio's requestPrincipalGenerator, requestClaimGenerator and their kin
// translate them (pilot/pkg/security/authz/model), with one difference: Istio matches one payload
// that its filters store under a fixed key, while signalbox's jwt_authn providers store each
// payload under its issuer (authn.go). So a match that does not name its issuer exactly is
// written once per issuer whose RequestAuthentication reaches the gateway role, ORed; with none,
// it could never match and is refused.

// jwtScope is what a role offers the translation of token conditions: the issuers of the
// RequestAuthentications that reach it, sorted.
type jwtScope struct {
	role    *ir.Role
	issuers []string
}

// isJWTKey: the `when` keys on the request's token (validation has refused any other
// request.auth key).
func isJWTKey(key string) bool { return strings.HasPrefix(key, "request.auth.") }

// requestPrincipalCondition translates requestPrincipals and notRequestPrincipals.
func (b *builder) requestPrincipalCondition(d *schema.Document, path string, s *schema.Source, scope jwtScope) ir.RBACCondition {
	c := ir.RBACCondition{Attribute: ir.RBACJWT}
	if len(s.RequestPrincipals) > 0 {
		c.Values = b.requestPrincipals(d, path+".requestPrincipals", s.RequestPrincipals, scope)
	}
	if len(s.NotRequestPrincipals) > 0 {
		c.NotValues = b.requestPrincipals(d, path+".notRequestPrincipals", s.NotRequestPrincipals, scope)
	}
	return c
}

// jwtCondition translates a `when` condition on request.auth.principal, .audiences (the "aud"
// claim), .presenter ("azp") or .claims[NAME] (nested: [a][b]).
func (b *builder) jwtCondition(d *schema.Document, path string, c schema.Condition, scope jwtScope) ir.RBACCondition {
	out := ir.RBACCondition{Attribute: ir.RBACJWT}
	values := func(vs []string) []ir.RBACValue {
		if len(vs) == 0 {
			return nil
		}
		switch c.Key {
		case "request.auth.principal":
			return b.requestPrincipals(d, path, vs, scope)
		case "request.auth.audiences":
			return b.claimValues(d, path, []string{"aud"}, vs, scope)
		case "request.auth.presenter":
			return b.claimValues(d, path, []string{"azp"}, vs, scope)
		}
		return b.claimValues(d, path, claimPath(strings.TrimPrefix(c.Key, "request.auth.claims")), vs, scope)
	}
	out.Values = values(c.Values)
	out.NotValues = values(c.NotValues)
	return out
}

// requestPrincipals translates "ISSUER/SUBJECT" values: the iss and sub claims both match. The
// issuer is what comes before the last "/" (issuers are often URLs); Istio's wildcard forms are
// "*" (any), "*SUFFIX" and "PREFIX*" (on the subject when there is no "/"), "*ISS/SUB" and
// "ISS/SUB*".
func (b *builder) requestPrincipals(d *schema.Document, path string, values []string, scope jwtScope) []ir.RBACValue {
	var out []ir.RBACValue
	for _, v := range values {
		iss, sub := principalMatch(v)
		if !b.haveIssuers(d, path, scope) {
			return nil
		}
		issuers := scope.issuers
		if iss.Kind == ir.MatchExact {
			issuers = []string{iss.Value}
			if !slices.Contains(scope.issuers, iss.Value) {
				b.warnf(d, path, "no RequestAuthentication reaching gateway %s accepts issuer %q: %q matches no request there",
					labelList(scope.role.Selector), iss.Value, v)
			}
		}
		for _, i := range issuers {
			out = append(out, ir.RBACValue{Claims: []ir.RBACClaim{claim(i, []string{"iss"}, iss, false), claim(i, []string{"sub"}, sub, false)}})
		}
	}
	return out
}

// principalMatch is Istio's requestPrincipalGenerator: the string matches of iss and sub.
func principalMatch(v string) (iss, sub ir.RBACValue) {
	anyValue := ir.RBACValue{Kind: ir.MatchRegex, Value: ".+"}
	idx := strings.LastIndex(v, "/")
	found := idx >= 0
	issuer, subject := v, ""
	if found {
		issuer, subject = v[:idx], v[idx+1:]
	}
	switch {
	case v == "*":
		return anyValue, anyValue
	case strings.HasPrefix(v, "*") && found:
		if issuer == "*" {
			return anyValue, exact(subject)
		}
		return ir.RBACValue{Kind: ir.MatchSuffix, Value: issuer[1:]}, exact(subject)
	case strings.HasPrefix(v, "*"):
		return anyValue, ir.RBACValue{Kind: ir.MatchSuffix, Value: v[1:]}
	case strings.HasSuffix(v, "*") && found:
		if subject == "*" {
			return exact(issuer), anyValue
		}
		return exact(issuer), ir.RBACValue{Kind: ir.MatchPrefix, Value: strings.TrimSuffix(subject, "*")}
	case strings.HasSuffix(v, "*"):
		return ir.RBACValue{Kind: ir.MatchPrefix, Value: strings.TrimSuffix(v, "*")}, anyValue
	default:
		return exact(issuer), exact(subject)
	}
}

// claimValues matches a claim against each value for each issuer of the role. As Istio's
// matcher, a value matches a string claim or one element of a list claim (audiences are either);
// "*" is the claim's presence.
func (b *builder) claimValues(d *schema.Document, path string, claimPath, values []string, scope jwtScope) []ir.RBACValue {
	if !b.haveIssuers(d, path, scope) {
		return nil
	}
	var out []ir.RBACValue
	for _, i := range scope.issuers {
		for _, v := range values {
			if v == "*" {
				out = append(out, ir.RBACValue{Claims: []ir.RBACClaim{claim(i, claimPath, ir.RBACValue{Kind: ir.MatchPresent}, false)}})
				continue
			}
			m := stringValue(v)
			out = append(out, ir.RBACValue{Claims: []ir.RBACClaim{claim(i, claimPath, m, true)}},
				ir.RBACValue{Claims: []ir.RBACClaim{claim(i, claimPath, m, false)}})
		}
	}
	return out
}

func (b *builder) haveIssuers(d *schema.Document, path string, scope jwtScope) bool {
	if len(scope.issuers) > 0 {
		return true
	}
	b.errorf(d, path, "no RequestAuthentication reaches gateway %s, so no request there carries a verified token to match",
		labelList(scope.role.Selector))
	return false
}

func claim(issuer string, path []string, m ir.RBACValue, list bool) ir.RBACClaim {
	return ir.RBACClaim{Issuer: issuer, Path: path, Kind: m.Kind, Value: m.Value, List: list}
}

func exact(v string) ir.RBACValue { return ir.RBACValue{Kind: ir.MatchExact, Value: v} }

// claimPath is Istio's extractNameInNestedBrackets: "[a][b]" is the nested claim a.b; anything
// else is the one name between the outer brackets ("[a.b]" is the claim named "a.b").
func claimPath(s string) []string {
	var out []string
	for rest := s; rest != ""; {
		end := strings.IndexByte(rest, ']')
		if rest[0] != '[' || end < 0 || strings.IndexByte(rest[1:end], '[') >= 0 {
			return []string{strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")}
		}
		out = append(out, rest[1:end])
		rest = rest[end+1:]
	}
	return out
}
