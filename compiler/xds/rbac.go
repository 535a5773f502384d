package xds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbac "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbachttp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// rbacFilters builds the RBAC filters of a listener's authorization, DENY before ALLOW as Istio
// orders them. Never optional: a proxy that cannot enforce a policy must refuse the listener.
func rbacFilters(a *ir.Authorization) ([]*hcm.HttpFilter, error) {
	sets, err := rbacSets(a)
	if err != nil {
		return nil, err
	}
	var out []*hcm.HttpFilter
	for _, rules := range sets {
		cfg, err := pack(&rbachttp.RBAC{Rules: rules})
		if err != nil {
			return nil, err
		}
		out = append(out, &hcm.HttpFilter{Name: wellknown.HTTPRoleBasedAccessControl,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: cfg}})
	}
	return out, nil
}

// rbacSets is the rules of each RBAC filter of an authorization: DENY, then ALLOW, each only
// when set (an ALLOW set without policies matches nothing, so it refuses everything).
func rbacSets(a *ir.Authorization) ([]*rbac.RBAC, error) {
	if a == nil {
		return nil, nil
	}
	var out []*rbac.RBAC
	for _, set := range []struct {
		rules  *ir.RBAC
		action rbac.RBAC_Action
	}{{a.Deny, rbac.RBAC_DENY}, {a.Allow, rbac.RBAC_ALLOW}} {
		if set.rules == nil {
			continue
		}
		rules := &rbac.RBAC{Action: set.action, Policies: map[string]*rbac.Policy{}}
		for _, p := range set.rules.Policies {
			policy, err := rbacPolicy(p)
			if err != nil {
				return nil, fmt.Errorf("RBAC policy %s: %w", p.Name, err)
			}
			rules.Policies[p.Name] = policy
		}
		out = append(out, rules)
	}
	return out, nil
}

// matchNever is Istio's policy that matches no request.
func matchNever() *rbac.Policy {
	return &rbac.Policy{
		Permissions: []*rbac.Permission{{Rule: &rbac.Permission_NotRule{NotRule: &rbac.Permission{Rule: &rbac.Permission_Any{Any: true}}}}},
		Principals:  []*rbac.Principal{{Identifier: &rbac.Principal_NotId{NotId: &rbac.Principal{Identifier: &rbac.Principal_Any{Any: true}}}}},
	}
}

// rbacPolicy writes each permission and principal as Istio does: and_rules (and_ids) of its
// conditions, or of `any` when it has none.
func rbacPolicy(p *ir.RBACPolicy) (*rbac.Policy, error) {
	if p.MatchNever {
		return matchNever(), nil
	}
	out := &rbac.Policy{}
	for _, r := range p.Permissions {
		var and []*rbac.Permission
		for _, c := range r.Conditions {
			ps, err := permissions(c)
			if err != nil {
				return nil, err
			}
			and = append(and, ps...)
		}
		if len(and) == 0 {
			and = []*rbac.Permission{{Rule: &rbac.Permission_Any{Any: true}}}
		}
		out.Permissions = append(out.Permissions, &rbac.Permission{Rule: &rbac.Permission_AndRules{AndRules: &rbac.Permission_Set{Rules: and}}})
	}
	for _, r := range p.Principals {
		var and []*rbac.Principal
		for _, c := range r.Conditions {
			ps, err := principals(c)
			if err != nil {
				return nil, err
			}
			and = append(and, ps...)
		}
		if len(and) == 0 {
			and = []*rbac.Principal{{Identifier: &rbac.Principal_Any{Any: true}}}
		}
		out.Principals = append(out.Principals, &rbac.Principal{Identifier: &rbac.Principal_AndIds{AndIds: &rbac.Principal_Set{Ids: and}}})
	}
	return out, nil
}

// permissions is a condition on the permission side: or_rules of its values, then not_rule of
// or_rules of its not-values.
func permissions(c ir.RBACCondition) ([]*rbac.Permission, error) {
	one := func(v ir.RBACValue) (*rbac.Permission, error) {
		switch c.Attribute {
		case ir.RBACHeader:
			return &rbac.Permission{Rule: &rbac.Permission_Header{Header: rbacHeader(c.Header, v)}}, nil
		case ir.RBACPath:
			return &rbac.Permission{Rule: &rbac.Permission_UrlPath{UrlPath: &matcher.PathMatcher{
				Rule: &matcher.PathMatcher_Path{Path: rbacString(v)}}}}, nil
		case ir.RBACDestinationPort:
			return &rbac.Permission{Rule: &rbac.Permission_DestinationPort{DestinationPort: v.Port}}, nil
		case ir.RBACDestinationIP:
			return &rbac.Permission{Rule: &rbac.Permission_DestinationIp{DestinationIp: cidr(v)}}, nil
		case ir.RBACServerName:
			return &rbac.Permission{Rule: &rbac.Permission_RequestedServerName{RequestedServerName: rbacString(v)}}, nil
		}
		return nil, fmt.Errorf("unknown permission attribute %q", c.Attribute)
	}
	or := func(vs []ir.RBACValue) (*rbac.Permission, error) {
		var rules []*rbac.Permission
		for _, v := range vs {
			p, err := one(v)
			if err != nil {
				return nil, err
			}
			rules = append(rules, p)
		}
		return &rbac.Permission{Rule: &rbac.Permission_OrRules{OrRules: &rbac.Permission_Set{Rules: rules}}}, nil
	}
	return valuesThenNot(c, or, func(p *rbac.Permission) *rbac.Permission {
		return &rbac.Permission{Rule: &rbac.Permission_NotRule{NotRule: p}}
	})
}

// principals is a condition on the principal side: or_ids of its values, then not_id of or_ids
// of its not-values. A token condition's value is and_ids of metadata matchers (claimMatcher).
func principals(c ir.RBACCondition) ([]*rbac.Principal, error) {
	one := func(v ir.RBACValue) (*rbac.Principal, error) {
		switch c.Attribute {
		case ir.RBACHeader:
			return &rbac.Principal{Identifier: &rbac.Principal_Header{Header: rbacHeader(c.Header, v)}}, nil
		case ir.RBACDirectRemoteIP:
			return &rbac.Principal{Identifier: &rbac.Principal_DirectRemoteIp{DirectRemoteIp: cidr(v)}}, nil
		case ir.RBACRemoteIP:
			return &rbac.Principal{Identifier: &rbac.Principal_RemoteIp{RemoteIp: cidr(v)}}, nil
		case ir.RBACPeerPrincipal:
			return &rbac.Principal{Identifier: &rbac.Principal_Authenticated_{
				Authenticated: &rbac.Principal_Authenticated{PrincipalName: rbacString(v)}}}, nil
		case ir.RBACJWT:
			var and []*rbac.Principal
			for _, cl := range v.Claims {
				and = append(and, &rbac.Principal{Identifier: &rbac.Principal_Metadata{Metadata: claimMatcher(cl)}})
			}
			if len(and) == 1 {
				return and[0], nil
			}
			return &rbac.Principal{Identifier: &rbac.Principal_AndIds{AndIds: &rbac.Principal_Set{Ids: and}}}, nil
		}
		return nil, fmt.Errorf("unknown principal attribute %q", c.Attribute)
	}
	or := func(vs []ir.RBACValue) (*rbac.Principal, error) {
		var ids []*rbac.Principal
		for _, v := range vs {
			p, err := one(v)
			if err != nil {
				return nil, err
			}
			ids = append(ids, p)
		}
		if c.Attribute == ir.RBACJWT && len(ids) == 1 {
			return ids[0], nil // as Istio's generators of token conditions: no OR of one
		}
		return &rbac.Principal{Identifier: &rbac.Principal_OrIds{OrIds: &rbac.Principal_Set{Ids: ids}}}, nil
	}
	return valuesThenNot(c, or, func(p *rbac.Principal) *rbac.Principal {
		return &rbac.Principal{Identifier: &rbac.Principal_NotId{NotId: p}}
	})
}

// valuesThenNot is a condition's shape on either side of a policy, as Istio builds it: the OR
// of its values, then the negation of the OR of its not-values (each only when present).
func valuesThenNot[T any](c ir.RBACCondition, or func([]ir.RBACValue) (T, error), not func(T) T) ([]T, error) {
	var out []T
	if len(c.Values) > 0 {
		p, err := or(c.Values)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(c.NotValues) > 0 {
		p, err := or(c.NotValues)
		if err != nil {
			return nil, err
		}
		out = append(out, not(p))
	}
	return out, nil
}

// rbacHeader is Istio's header matcher: presence, or a string_match.
func rbacHeader(name string, v ir.RBACValue) *route.HeaderMatcher {
	if v.Kind == ir.MatchPresent {
		return &route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_PresentMatch{PresentMatch: true}}
	}
	return &route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: rbacString(v)}}
}

func rbacString(v ir.RBACValue) *matcher.StringMatcher {
	m := &matcher.StringMatcher{IgnoreCase: v.IgnoreCase}
	switch v.Kind {
	case ir.MatchPrefix:
		m.MatchPattern = &matcher.StringMatcher_Prefix{Prefix: v.Value}
	case ir.MatchSuffix:
		m.MatchPattern = &matcher.StringMatcher_Suffix{Suffix: v.Value}
	case ir.MatchRegex:
		m.MatchPattern = &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: v.Value}}
	default:
		m.MatchPattern = &matcher.StringMatcher_Exact{Exact: v.Value}
	}
	return m
}

func cidr(v ir.RBACValue) *core.CidrRange {
	return &core.CidrRange{AddressPrefix: v.Address, PrefixLen: wrapperspb.UInt32(v.PrefixLen)}
}
