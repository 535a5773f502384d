package compiler

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// authenticate gives each gateway role the JWT providers of the RequestAuthentications that
// reach it (the reach rule of AuthorizationPolicy), as Istio's policy applier does
// (pilot/pkg/security/authn, convertToEnvoyJwtConfig): every jwtRule of every such policy, sorted
// by issuer, is provider "origins-<index>". A role whose providers fetch their keys carries the
// clusters they fetch through. It returns each role's issuers, sorted, for the AuthorizationPolicy
// conditions on request tokens.
func (b *builder) authenticate(roles []*ir.Role) map[*ir.Role][]string {
	type rule struct {
		d      *schema.Document
		index  int
		jwt    schema.JWTRule
		remote *ir.RemoteJWKS
	}
	reached := map[*ir.Role][]rule{}
	for _, d := range b.docs(schema.KindRequestAuthentication) {
		ra := d.Spec.(*schema.RequestAuthentication)
		remotes, ok := b.checkRequestAuthentication(d, ra)
		if !ok {
			continue
		}
		for _, r := range b.reach(d, ra.Selector, roles) {
			for i, j := range ra.JWTRules {
				reached[r] = append(reached[r], rule{d, i, j, remotes[i]})
			}
		}
	}
	issuers := map[*ir.Role][]string{}
	for _, r := range roles {
		rules := reached[r]
		if len(rules) == 0 {
			continue
		}
		// Istio sorts by issuer alone, keeping its own order of policies; signalbox's tree has no
		// creation times, so ties go by namespace, name and rule index.
		slices.SortStableFunc(rules, func(a, c rule) int {
			return cmp.Or(cmp.Compare(a.jwt.Issuer, c.jwt.Issuer), cmp.Compare(a.d.Namespace, c.d.Namespace),
				cmp.Compare(a.d.Name, c.d.Name), cmp.Compare(a.index, c.index))
		})
		a := &ir.Authentication{}
		for i, x := range rules {
			a.Providers = append(a.Providers, jwtProvider(fmt.Sprintf("origins-%d", i), x.jwt, x.remote))
			issuers[r] = append(issuers[r], x.jwt.Issuer)
		}
		issuers[r] = slices.Compact(issuers[r])
		verifies := false
		for _, l := range r.Listeners {
			// A TCP connection carries no token, and Istio verifies none there: nothing to do.
			if !l.ForwardsConnections() {
				l.Authentication, verifies = a, true
			}
		}
		for _, x := range rules {
			if x.remote != nil && verifies {
				carryCluster(r, b.clustersNamed(x.remote.Cluster))
			}
		}
	}
	return issuers
}

// jwtProvider translates one jwtRule; remote, when set, replaces the inline keys.
func jwtProvider(name string, j schema.JWTRule, remote *ir.RemoteJWKS) *ir.JWTProvider {
	p := &ir.JWTProvider{
		Name:                 name,
		Issuer:               j.Issuer,
		Audiences:            j.Audiences,
		RemoteJWKS:           remote,
		FromParams:           j.FromParams,
		Forward:              j.ForwardOriginalToken,
		ForwardPayloadHeader: j.OutputPayloadToHeader,
	}
	for _, h := range j.FromHeaders {
		p.FromHeaders = append(p.FromHeaders, ir.JWTHeader{Name: h.Name, Prefix: h.Prefix})
	}
	if remote == nil {
		p.JWKS = j.JWKS
	}
	return p
}

// checkRequestAuthentication reports what signalbox cannot honour of a RequestAuthentication
// (attachment by targetRef, keys discovered from the issuer, the jwtRule fields its proxies do
// not implement) and resolves where each rule's keys come from (keySource): the remote source of
// each rule whose keys the proxy fetches, by rule index, nil for inline keys.
func (b *builder) checkRequestAuthentication(d *schema.Document, ra *schema.RequestAuthentication) ([]*ir.RemoteJWKS, bool) {
	n := len(b.findings)
	b.refuseTargetRefs(d, ra.TargetRef, ra.TargetRefs)
	remotes := make([]*ir.RemoteJWKS, len(ra.JWTRules))
	for i, r := range ra.JWTRules {
		p := fmt.Sprintf("spec.jwtRules[%d]", i)
		remotes[i] = b.keySource(d, p, r)
		for _, f := range []struct {
			name, why string
			set       bool
		}{
			{"fromCookies", "tokens are read from headers and query parameters", len(r.FromCookies) > 0},
			{"outputClaimToHeaders", "outputPayloadToHeader passes the whole payload on", len(r.OutputClaimToHeaders) > 0},
			{"spaceDelimitedClaims", "claims are matched as the token carries them", len(r.SpaceDelimitedClaims) > 0},
			{"presence", "a missing token passes the filter: an AuthorizationPolicy with requestPrincipals [\"*\"] requires one", r.Presence == "REQUIRED"},
		} {
			if f.set {
				b.unsupportedf(d, p+"."+f.name, "%s", f.why)
			}
		}
	}
	// Warnings (ignored jwks, a timeout with nothing to fetch) leave the policy compiled.
	return remotes, !schema.HasErrors(b.findings[n:])
}

// checkJWKS checks what Envoy needs of an inline key set: a JSON object whose "keys" is a
// non-empty array of keys, each an object naming its type (kty). A set Envoy cannot read would
// be accepted by the proxy and fail every token.
func checkJWKS(s string) error {
	var set map[string]any
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	keys, ok := set["keys"].([]any)
	if !ok || len(keys) == 0 {
		return fmt.Errorf("not a JSON Web Key Set: no \"keys\" array of keys")
	}
	for i, k := range keys {
		key, _ := k.(map[string]any)
		if kty, _ := key["kty"].(string); kty == "" {
			return fmt.Errorf("key %d of the JSON Web Key Set has no \"kty\"", i)
		}
	}
	return nil
}
