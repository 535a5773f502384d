package proxy

import (
	"net/netip"
	"strconv"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Envoy's RBAC HTTP filter (envoy.filters.http.rbac): every field this file does not decode
// is a NACK naming it, so a listener whose access rules the proxy cannot honour is refused
// whole rather than served with part of its rules. The evaluation is in rbac_eval.go.

const rbacFilterName = "envoy.filters.http.rbac"

var rbacTypeURL = typeURLOf(&rbacfilterv3.RBAC{})

// rbacChain is a listener's RBAC filters, in the order its connection manager lists them.
type rbacChain struct {
	filters []rbacFilter
	// listenerCounters names the counters (resolved at the first request that counts); port
	// is the listener's port as xDS configures it, which destination_port matches (tests and
	// --bind rebind the socket elsewhere).
	listenerCounters
	port uint32
	// What the matchers read beyond the request, so a request pays only for what is asked.
	needRemote, needLocal, needTLS bool
	// network says the chain is a TCP listener's network RBAC filters (rbac_network.go),
	// which see a connection, never a request: HTTP-level matchers are refused.
	network bool
}

// rbacFilter is one RBAC filter: rules are enforced, shadow rules only counted. Either may be
// nil: Envoy enforces nothing when rules is absent.
type rbacFilter struct {
	rules, shadow *rbacEngine
}

// rbacEngine is a config.rbac.v3.RBAC: deny says the action is DENY (else ALLOW).
type rbacEngine struct {
	deny     bool
	policies []rbacPolicy // in lexicographic order of their names, as Envoy evaluates them
}

// rbacPolicy matches when any permission and any principal match.
type rbacPolicy struct {
	name        string
	permissions []rbacMatcher
	principals  []rbacMatcher
}

type rbacKind uint8

const (
	rbAny rbacKind = iota
	rbAnd
	rbOr
	rbNot
	rbHeader
	rbPath          // url_path: the path without query or fragment
	rbDestPort      // the listener's configured port
	rbDestRange     // [lo, hi)
	rbDestIP        // the connection's local address
	rbSNI           // requested_server_name: the TLS SNI, "" without TLS
	rbRemoteIP      // direct_remote_ip, remote_ip, source_ip: the downstream peer
	rbAuthenticated // authenticated: the client certificate
	rbMetadata      // metadata: the payloads jwt_authn verified (rbac_metadata.go)
)

// rbacMatcher is a Permission or a Principal (they share every kind they both have), a plain
// struct like the route matchers so evaluating it costs no allocation.
type rbacMatcher struct {
	kind     rbacKind
	children []rbacMatcher // and, or; not has one
	header   headerMatcher
	str      stringMatcher // url_path, requested_server_name, authenticated.principal_name
	hasStr   bool          // authenticated without principal_name matches any TLS peer
	prefix   netip.Prefix  // masked
	lo, hi   uint32
	meta     *metadataMatcher
}

// decodeRBACFilter decodes one RBAC http filter's typed_config, appending it to chain.
func decodeRBACFilter(p fieldPath, a *anypb.Any, chain *rbacChain) error {
	if a == nil {
		return p.errorf("required: the RBAC filter needs its configuration")
	}
	if a.GetTypeUrl() != rbacTypeURL {
		return p.errorf("type %q, want %s", a.GetTypeUrl(), rbacTypeURL)
	}
	var m rbacfilterv3.RBAC
	if err := a.UnmarshalTo(&m); err != nil {
		return p.errorf("%v", err)
	}
	if err := validateAll(p, &m); err != nil {
		return err
	}
	// The stat prefixes only name Envoy's counters, which this proxy exposes under its own
	// names; matcher, shadow_matcher and per-rule stats are not implemented, so they NACK.
	if err := onlyFields(p, &m, "rules", "shadow_rules", "rules_stat_prefix", "shadow_rules_stat_prefix"); err != nil {
		return err
	}
	return decodeRBACRules(p, m.GetRules(), m.GetShadowRules(), chain)
}

// decodeRBACRules adds a filter's enforced and shadow rules to the chain, HTTP or network: a
// filter with neither enforces nothing and is left out.
func decodeRBACRules(p fieldPath, rules, shadow *rbacv3.RBAC, chain *rbacChain) error {
	var f rbacFilter
	var err error
	if rules != nil {
		if f.rules, err = decodeRBACEngine(p.field("rules"), rules, chain); err != nil {
			return err
		}
	}
	if shadow != nil {
		if f.shadow, err = decodeRBACEngine(p.field("shadow_rules"), shadow, chain); err != nil {
			return err
		}
	}
	if f.rules != nil || f.shadow != nil {
		chain.filters = append(chain.filters, f)
	}
	return nil
}

func decodeRBACEngine(p fieldPath, m *rbacv3.RBAC, chain *rbacChain) (*rbacEngine, error) {
	if err := onlyFields(p, m, "action", "policies"); err != nil {
		return nil, err
	}
	e := &rbacEngine{}
	switch m.GetAction() {
	case rbacv3.RBAC_ALLOW:
	case rbacv3.RBAC_DENY:
		e.deny = true
	default:
		// LOG only sets access-log metadata, which nothing in this proxy reads.
		return nil, p.field("action").errorf("%s is not supported: ALLOW and DENY are", m.GetAction())
	}
	for _, name := range sortedKeys(m.GetPolicies()) {
		pp := p.field("policies[" + strconv.Quote(name) + "]")
		pol := m.GetPolicies()[name]
		if err := onlyFields(pp, pol, "permissions", "principals"); err != nil {
			return nil, err
		}
		rp := rbacPolicy{name: name}
		for i, perm := range pol.GetPermissions() {
			pm, err := decodePermission(pp.field("permissions").index(i), perm, chain)
			if err != nil {
				return nil, err
			}
			rp.permissions = append(rp.permissions, pm)
		}
		for i, id := range pol.GetPrincipals() {
			pm, err := decodePrincipal(pp.field("principals").index(i), id, chain)
			if err != nil {
				return nil, err
			}
			rp.principals = append(rp.principals, pm)
		}
		e.policies = append(e.policies, rp)
	}
	return e, nil
}

func decodePermission(p fieldPath, m *rbacv3.Permission, chain *rbacChain) (rbacMatcher, error) {
	if m == nil {
		return rbacMatcher{}, p.errorf("required")
	}
	if err := onlyFields(p, m, "any", "and_rules", "or_rules", "not_rule", "header", "url_path", "destination_ip",
		"destination_port", "destination_port_range", "requested_server_name", "metadata"); err != nil {
		return rbacMatcher{}, err
	}
	set := func(name string, s *rbacv3.Permission_Set, kind rbacKind) (rbacMatcher, error) {
		sp := p.field(name)
		if err := onlyFields(sp, s, "rules"); err != nil {
			return rbacMatcher{}, err
		}
		out := rbacMatcher{kind: kind}
		for i, r := range s.GetRules() {
			c, err := decodePermission(sp.field("rules").index(i), r, chain)
			if err != nil {
				return rbacMatcher{}, err
			}
			out.children = append(out.children, c)
		}
		return out, nil
	}
	switch r := m.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return rbacMatcher{kind: rbAny}, nil
	case *rbacv3.Permission_AndRules:
		return set("and_rules", r.AndRules, rbAnd)
	case *rbacv3.Permission_OrRules:
		return set("or_rules", r.OrRules, rbOr)
	case *rbacv3.Permission_NotRule:
		c, err := decodePermission(p.field("not_rule"), r.NotRule, chain)
		return rbacMatcher{kind: rbNot, children: []rbacMatcher{c}}, err
	case *rbacv3.Permission_Header:
		if err := chain.httpOnly(p, "header"); err != nil {
			return rbacMatcher{}, err
		}
		hm, err := decodeHeaderMatcher(p.field("header"), r.Header)
		return rbacMatcher{kind: rbHeader, header: hm}, err
	case *rbacv3.Permission_UrlPath:
		if err := chain.httpOnly(p, "url_path"); err != nil {
			return rbacMatcher{}, err
		}
		return decodeRBACPath(p.field("url_path"), r.UrlPath)
	case *rbacv3.Permission_DestinationIp:
		chain.needLocal = true
		pfx, err := decodeCidr(p.field("destination_ip"), r.DestinationIp)
		return rbacMatcher{kind: rbDestIP, prefix: pfx}, err
	case *rbacv3.Permission_DestinationPort:
		return rbacMatcher{kind: rbDestPort, lo: r.DestinationPort}, nil
	case *rbacv3.Permission_DestinationPortRange:
		rp := p.field("destination_port_range")
		if err := onlyFields(rp, r.DestinationPortRange, "start", "end"); err != nil {
			return rbacMatcher{}, err
		}
		// Envoy's own bounds: a range that cannot match is a configuration error.
		lo, hi := r.DestinationPortRange.GetStart(), r.DestinationPortRange.GetEnd()
		if lo < 0 || lo > 65536 {
			return rbacMatcher{}, rp.field("start").errorf("%d is out of bounds [0, 65536]", lo)
		}
		if hi < 0 || hi > 65536 {
			return rbacMatcher{}, rp.field("end").errorf("%d is out of bounds [0, 65536]", hi)
		}
		if lo >= hi {
			return rbacMatcher{}, rp.errorf("start %d must be less than end %d", lo, hi)
		}
		return rbacMatcher{kind: rbDestRange, lo: uint32(lo), hi: uint32(hi)}, nil
	case *rbacv3.Permission_Metadata:
		if err := chain.httpOnly(p, "metadata"); err != nil {
			return rbacMatcher{}, err
		}
		return decodeMetadataMatcher(p.field("metadata"), r.Metadata)
	case *rbacv3.Permission_RequestedServerName:
		chain.needTLS = true
		sm, err := decodeStringMatcher(p.field("requested_server_name"), r.RequestedServerName)
		return rbacMatcher{kind: rbSNI, str: sm}, err
	}
	return rbacMatcher{}, p.errorf("one of any, and_rules, or_rules, not_rule, header, url_path, destination_ip, destination_port, destination_port_range, requested_server_name, metadata is required")
}

func decodePrincipal(p fieldPath, m *rbacv3.Principal, chain *rbacChain) (rbacMatcher, error) {
	if m == nil {
		return rbacMatcher{}, p.errorf("required")
	}
	if err := onlyFields(p, m, "any", "and_ids", "or_ids", "not_id", "direct_remote_ip", "remote_ip", "source_ip",
		"header", "url_path", "authenticated", "metadata"); err != nil {
		return rbacMatcher{}, err
	}
	set := func(name string, s *rbacv3.Principal_Set, kind rbacKind) (rbacMatcher, error) {
		sp := p.field(name)
		if err := onlyFields(sp, s, "ids"); err != nil {
			return rbacMatcher{}, err
		}
		out := rbacMatcher{kind: kind}
		for i, id := range s.GetIds() {
			c, err := decodePrincipal(sp.field("ids").index(i), id, chain)
			if err != nil {
				return rbacMatcher{}, err
			}
			out.children = append(out.children, c)
		}
		return out, nil
	}
	remote := func(name string, c *core.CidrRange) (rbacMatcher, error) {
		// remote_ip is the address X-Forwarded-For hops would name; this proxy trusts none,
		// so it is the peer, as direct_remote_ip and the deprecated source_ip are.
		chain.needRemote = true
		pfx, err := decodeCidr(p.field(name), c)
		return rbacMatcher{kind: rbRemoteIP, prefix: pfx}, err
	}
	switch id := m.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return rbacMatcher{kind: rbAny}, nil
	case *rbacv3.Principal_AndIds:
		return set("and_ids", id.AndIds, rbAnd)
	case *rbacv3.Principal_OrIds:
		return set("or_ids", id.OrIds, rbOr)
	case *rbacv3.Principal_NotId:
		c, err := decodePrincipal(p.field("not_id"), id.NotId, chain)
		return rbacMatcher{kind: rbNot, children: []rbacMatcher{c}}, err
	case *rbacv3.Principal_DirectRemoteIp:
		return remote("direct_remote_ip", id.DirectRemoteIp)
	case *rbacv3.Principal_RemoteIp:
		return remote("remote_ip", id.RemoteIp)
	case *rbacv3.Principal_SourceIp:
		return remote("source_ip", id.SourceIp)
	case *rbacv3.Principal_Header:
		if err := chain.httpOnly(p, "header"); err != nil {
			return rbacMatcher{}, err
		}
		hm, err := decodeHeaderMatcher(p.field("header"), id.Header)
		return rbacMatcher{kind: rbHeader, header: hm}, err
	case *rbacv3.Principal_UrlPath:
		if err := chain.httpOnly(p, "url_path"); err != nil {
			return rbacMatcher{}, err
		}
		return decodeRBACPath(p.field("url_path"), id.UrlPath)
	case *rbacv3.Principal_Metadata:
		if err := chain.httpOnly(p, "metadata"); err != nil {
			return rbacMatcher{}, err
		}
		return decodeMetadataMatcher(p.field("metadata"), id.Metadata)
	case *rbacv3.Principal_Authenticated_:
		ap := p.field("authenticated")
		if err := onlyFields(ap, id.Authenticated, "principal_name"); err != nil {
			return rbacMatcher{}, err
		}
		chain.needTLS = true
		out := rbacMatcher{kind: rbAuthenticated}
		if pn := id.Authenticated.GetPrincipalName(); pn != nil {
			sm, err := decodeStringMatcher(ap.field("principal_name"), pn)
			if err != nil {
				return rbacMatcher{}, err
			}
			out.str, out.hasStr = sm, true
		}
		return out, nil
	}
	return rbacMatcher{}, p.errorf("one of any, and_ids, or_ids, not_id, direct_remote_ip, remote_ip, source_ip, header, url_path, authenticated, metadata is required")
}

func decodeRBACPath(p fieldPath, m *matcherv3.PathMatcher) (rbacMatcher, error) {
	if err := onlyFields(p, m, "path"); err != nil {
		return rbacMatcher{}, err
	}
	sm, err := decodeStringMatcher(p.field("path"), m.GetPath())
	return rbacMatcher{kind: rbPath, str: sm}, err
}

// decodeCidr follows Envoy's CidrRange: the prefix's host bits are cleared, and a prefix_len
// longer than the address is clamped to its length; an address that is not an IP literal is
// an error.
func decodeCidr(p fieldPath, c *core.CidrRange) (netip.Prefix, error) {
	if err := onlyFields(p, c, "address_prefix", "prefix_len"); err != nil {
		return netip.Prefix{}, err
	}
	a, err := netip.ParseAddr(c.GetAddressPrefix())
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, p.field("address_prefix").errorf("%q is not an IP address", c.GetAddressPrefix())
	}
	bits := int(min(c.GetPrefixLen().GetValue(), uint32(a.BitLen())))
	return netip.PrefixFrom(a, bits).Masked(), nil
}
