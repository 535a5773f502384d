package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	exprv1 "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Builders of real RBAC protos, the shapes the compiler emits.

func rbacHTTPFilter(action rbacv3.RBAC_Action, policies map[string]*rbacv3.Policy) *hcmv3.HttpFilter {
	return rbacFilterOf(&rbacfilterv3.RBAC{Rules: &rbacv3.RBAC{Action: action, Policies: policies}})
}

func rbacFilterOf(m *rbacfilterv3.RBAC) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: rbacFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(m)}}
}

func policy(perms []*rbacv3.Permission, ids []*rbacv3.Principal) *rbacv3.Policy {
	return &rbacv3.Policy{Permissions: perms, Principals: ids}
}

func perms(p ...*rbacv3.Permission) []*rbacv3.Permission { return p }
func ids(p ...*rbacv3.Principal) []*rbacv3.Principal     { return p }

var (
	anyPerm = &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}
	anyID   = &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}
)

func headerPerm(name string, sm *matcherv3.StringMatcher) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{
		Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: sm}}}}
}

func pathPerm(sm *matcherv3.StringMatcher) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{
		Rule: &matcherv3.PathMatcher_Path{Path: sm}}}}
}

func cidr(prefix string, bits uint32) *core.CidrRange {
	return &core.CidrRange{AddressPrefix: prefix, PrefixLen: wrapperspb.UInt32(bits)}
}

func remoteID(prefix string, bits uint32) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_DirectRemoteIp{DirectRemoteIp: cidr(prefix, bits)}}
}

func prefixSM(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s}}
}

// decodeRBACListener decodes a listener on 0.0.0.0:8080 whose HCM has filters then the router.
func decodeRBACListener(filters ...*hcmv3.HttpFilter) (*listenerConfig, error) {
	return decodeListener(httpListener("gw", "0.0.0.0", 8080, "r", append(filters, routerFilter())...))
}

// TestRBACDecodeAccepts: the compiler's shape (DENY then ALLOW, before cors and fault), every
// supported matcher, shadow rules, an optional RBAC filter, and a filter without rules.
func TestRBACDecodeAccepts(t *testing.T) {
	every := policy(perms(
		anyPerm,
		&rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(anyPerm, pathPerm(exact("/a")))}}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: perms(headerPerm(":method", exact("GET")))}}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: headerPerm("x-a", exact("b"))}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.0.0.0", 8)}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: 8080}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 8000, End: 9000}}},
		&rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: exact("shop.example.com")}},
	), ids(
		anyID,
		&rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids(anyID)}}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ids(anyID)}}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: anyID}},
		remoteID("::1", 128),
		&rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: cidr("127.0.0.1", 32)}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_SourceIp{SourceIp: cidr("127.0.0.0", 8)}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: &routev3.HeaderMatcher{Name: "x-user",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_UrlPath{UrlPath: &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: prefixSM("/")}}}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{
			PrincipalName: exact("spiffe://cluster.local/ns/default/sa/shop")}}},
		&rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{}}},
	))
	optional := rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"p": policy(perms(anyPerm), ids(anyID))})
	optional.IsOptional = true
	lc, err := decodeRBACListener(
		rbacHTTPFilter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"every": every}),
		rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"b": policy(perms(anyPerm), ids(anyID)), "a": every}),
		optional,
		rbacFilterOf(&rbacfilterv3.RBAC{ShadowRules: &rbacv3.RBAC{Action: rbacv3.RBAC_DENY}, RulesStatPrefix: "r.", ShadowRulesStatPrefix: "s."}),
		rbacFilterOf(&rbacfilterv3.RBAC{}), // no rules: Envoy enforces nothing
		corsFilter(), faultFilter())
	if err != nil {
		t.Fatal(err)
	}
	c := lc.filters.rbac
	if c == nil || len(c.filters) != 4 {
		t.Fatalf("rbac chain %+v, want 4 filters", c)
	}
	if c.listener != "gw" || c.port != 8080 || !c.needLocal || !c.needRemote || !c.needTLS {
		t.Errorf("chain listener %q port %d needs local %v remote %v tls %v", c.listener, c.port, c.needLocal, c.needRemote, c.needTLS)
	}
	if !c.filters[0].rules.deny || c.filters[1].rules.deny || c.filters[3].rules != nil || c.filters[3].shadow == nil {
		t.Errorf("filters decoded in the wrong order or with the wrong actions")
	}
	if got := c.filters[1].rules.policies; got[0].name != "a" || got[1].name != "b" {
		t.Errorf("policies in order %q, %q: want lexicographic", got[0].name, got[1].name)
	}
	if !lc.filters.cors || lc.filters.fault == nil {
		t.Error("cors and fault lost")
	}

	// A listener without RBAC has no chain, so its requests pay one nil check.
	lc, err = decodeRBACListener(corsFilter())
	if err != nil || lc.filters.rbac != nil {
		t.Errorf("no RBAC: chain %v, err %v", lc.filters.rbac, err)
	}
}

// TestRBACDecodeRejects: what the proxy cannot honour NACKs the listener, naming the field.
func TestRBACDecodeRejects(t *testing.T) {
	allow := func(p *rbacv3.Policy) *hcmv3.HttpFilter {
		return rbacHTTPFilter(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"p": p})
	}
	perm := func(p *rbacv3.Permission) *hcmv3.HttpFilter { return allow(policy(perms(p), ids(anyID))) }
	id := func(p *rbacv3.Principal) *hcmv3.HttpFilter { return allow(policy(perms(anyPerm), ids(p))) }
	const f0 = "http_filters[0].typed_config."
	const pol = f0 + `rules.policies["p"].`
	optionalBad := &hcmv3.HttpFilter{Name: rbacFilterName, IsOptional: true,
		ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&structpb.Struct{})}}
	for want, filters := range map[string][]*hcmv3.HttpFilter{
		f0 + "matcher: field not supported": {rbacFilterOf(&rbacfilterv3.RBAC{Matcher: &xdsmatcherv3.Matcher{}})},
		f0 + "track_per_rule_stats: field not supported": {rbacFilterOf(&rbacfilterv3.RBAC{
			Rules: &rbacv3.RBAC{}, TrackPerRuleStats: true})},
		f0 + "rules.action: LOG is not supported": {rbacHTTPFilter(rbacv3.RBAC_LOG, nil)},
		f0 + "rules.audit_logging_options: field not supported": {rbacFilterOf(&rbacfilterv3.RBAC{Rules: &rbacv3.RBAC{
			AuditLoggingOptions: &rbacv3.RBAC_AuditLoggingOptions{AuditCondition: rbacv3.RBAC_AuditLoggingOptions_ON_DENY}}})},
		f0 + "shadow_rules.policies[\"p\"].permissions[0].metadata.filter: \"f\" is not supported": {rbacFilterOf(&rbacfilterv3.RBAC{
			ShadowRules: &rbacv3.RBAC{Policies: map[string]*rbacv3.Policy{"p": policy(perms(&rbacv3.Permission{
				Rule: &rbacv3.Permission_Metadata{Metadata: &matcherv3.MetadataMatcher{Filter: "f",
					Path:  []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: "k"}}},
					Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}}}}}), ids(anyID))}}})},
		pol + "condition: field not supported": {allow(&rbacv3.Policy{Permissions: perms(anyPerm), Principals: ids(anyID),
			Condition: &exprv1.Expr{}})},
		pol + "permissions[0].and_rules.rules[0].requested_server_name.custom: field not supported": {perm(&rbacv3.Permission{
			Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(&rbacv3.Permission{
				Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Custom{Custom: &xdscorev3.TypedExtensionConfig{Name: "c", TypedConfig: mustAny(&structpb.Struct{})}}}}})}}})},
		pol + "permissions[0].uri_template: field not supported": {perm(&rbacv3.Permission{Rule: &rbacv3.Permission_UriTemplate{
			UriTemplate: &core.TypedExtensionConfig{Name: "t", TypedConfig: mustAny(&structpb.Struct{})}}})},
		pol + "permissions[0].matcher: field not supported": {perm(&rbacv3.Permission{Rule: &rbacv3.Permission_Matcher{
			Matcher: &core.TypedExtensionConfig{Name: "m", TypedConfig: mustAny(&structpb.Struct{})}}})},
		pol + "permissions[0].not_rule.header.name: pseudo-header \":protocol\" is not supported": {perm(&rbacv3.Permission{
			Rule: &rbacv3.Permission_NotRule{NotRule: headerPerm(":protocol", exact("x"))}})},
		pol + "permissions[0].destination_ip.address_prefix: \"10.0.0.0/8\" is not an IP address": {perm(&rbacv3.Permission{
			Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.0.0.0/8", 8)}})},
		pol + "permissions[0].destination_port_range: start 90 must be less than end 80": {perm(&rbacv3.Permission{
			Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 90, End: 80}}})},
		pol + "permissions[0].destination_port_range.end: 70000 is out of bounds": {perm(&rbacv3.Permission{
			Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 1, End: 70000}}})},
		pol + "principals[0].filter_state: field not supported": {id(&rbacv3.Principal{Identifier: &rbacv3.Principal_FilterState{
			FilterState: &matcherv3.FilterStateMatcher{Key: "k", Matcher: &matcherv3.FilterStateMatcher_StringMatch{StringMatch: exact("v")}}}})},
		pol + "principals[0].or_ids.ids[0].metadata.filter: \"f\" is not supported": {id(&rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{
			OrIds: &rbacv3.Principal_Set{Ids: ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_Metadata{Metadata: &matcherv3.MetadataMatcher{Filter: "f",
				Path:  []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: "k"}}},
				Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}}}}})}}})},
		pol + "principals[0].not_id.direct_remote_ip.address_prefix: \"example.com\" is not an IP address": {id(&rbacv3.Principal{
			Identifier: &rbacv3.Principal_NotId{NotId: remoteID("example.com", 8)}})},
		pol + "principals[0].authenticated.principal_name.safe_regex.regex: invalid RE2": {id(&rbacv3.Principal{
			Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(("}}}}}})},
		pol + "principals[0].custom: field not supported": {id(&rbacv3.Principal{Identifier: &rbacv3.Principal_Custom{
			Custom: &core.TypedExtensionConfig{Name: "c", TypedConfig: mustAny(&structpb.Struct{})}}})},
		// protoc-gen-validate's rules, as Envoy applies them: a policy needs permissions.
		"http_filters[0].typed_config: invalid RBAC.Rules": {allow(&rbacv3.Policy{Principals: ids(anyID)})},
		// An optional RBAC filter is enforced, not skipped: a type it cannot read is a NACK.
		"http_filters[0].typed_config: type \"type.googleapis.com/google.protobuf.Struct\"": {optionalBad},
		"http_filters[0].typed_config: required":                                            {{Name: rbacFilterName}},
		// RBAC runs first here; a chain that puts it after cors or fault is refused.
		"http_filters[1]: the RBAC filter must come before":     {corsFilter(), allow(policy(perms(anyPerm), ids(anyID)))},
		"http_filters[1]: the RBAC filter must come before the": {faultFilter(), allow(policy(perms(anyPerm), ids(anyID)))},
	} {
		_, err := decodeRBACListener(filters...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant an error with %q", err, want)
		}
	}
}

// rbacEngineOf decodes one RBAC rules message for the evaluation tests.
func rbacEngineOf(t *testing.T, action rbacv3.RBAC_Action, policies map[string]*rbacv3.Policy) *rbacEngine {
	t.Helper()
	var chain rbacChain
	a, _ := anypb.New(&rbacfilterv3.RBAC{Rules: &rbacv3.RBAC{Action: action, Policies: policies}})
	if err := decodeRBACFilter("rbac", a, &chain); err != nil {
		t.Fatal(err)
	}
	return chain.filters[0].rules
}

// clientCert is a parsed certificate with the given SANs and subject, as crypto/tls hands
// the proxy a verified client's.
func clientCert(t *testing.T, uri, dns string, subject pkix.Name) *x509.Certificate {
	t.Helper()
	c := &x509.Certificate{Subject: subject}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		c.URIs = []*url.URL{u}
	}
	if dns != "" {
		c.DNSNames = []string{dns}
	}
	return c
}

// TestRBACEvaluate runs every matcher over real http.Requests, each as the one permission
// (or principal) of an ALLOW policy, and checks the same rule under DENY gives the opposite.
func TestRBACEvaluate(t *testing.T) {
	spiffe := "spiffe://cluster.local/ns/default/sa/shop"
	withCert := &tls.ConnectionState{ServerName: "shop.example.com", PeerCertificates: []*x509.Certificate{
		clientCert(t, spiffe, "client.example.com", pkix.Name{CommonName: "shop", Organization: []string{"acme"}})}}
	subjectOnly := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{clientCert(t, "", "", pkix.Name{CommonName: "ops"})}}
	noCert := &tls.ConnectionState{ServerName: "other.example.com"}
	anything := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}
	authn := func(sm *matcherv3.StringMatcher) *rbacv3.Principal {
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: sm}}}
	}
	hdrID := func(p *rbacv3.Permission) *rbacv3.Principal {
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_Header{Header: p.GetHeader()}}
	}
	type input struct {
		method, target, host string
		hdr                  []string
		local, remote        string
		tls                  *tls.ConnectionState
	}
	get := func(target string, hdr ...string) input {
		return input{method: "GET", target: target, host: "shop.example.com", hdr: hdr, local: "10.1.2.3", remote: "192.168.1.7"}
	}
	on := func(in input, f func(*input)) input { f(&in); return in }
	cases := []struct {
		name string
		perm *rbacv3.Permission
		id   *rbacv3.Principal
		in   input
		want bool
	}{
		{"any", anyPerm, anyID, get("/"), true},
		{"header exact", headerPerm("x-role", exact("admin")), nil, get("/", "X-Role", "admin"), true},
		{"header exact other", headerPerm("x-role", exact("admin")), nil, get("/", "X-Role", "user"), false},
		{"header missing", headerPerm("x-role", exact("admin")), nil, get("/"), false},
		{"header ignore_case", headerPerm("x-role", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "ADMIN"}, IgnoreCase: true}), nil, get("/", "X-Role", "admin"), true},
		{"header prefix", headerPerm("x-role", prefixSM("adm")), nil, get("/", "X-Role", "admin"), true},
		{"header suffix", headerPerm("x-role", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "min"}}), nil, get("/", "X-Role", "admin"), true},
		{"header contains", headerPerm("x-role", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "dmi"}}), nil, get("/", "X-Role", "admin"), true},
		{"header regex", headerPerm("x-role", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "ad.*"}}}), nil, get("/", "X-Role", "admin"), true},
		{"header regex is a full match", headerPerm("x-role", &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "dmi"}}}), nil, get("/", "X-Role", "admin"), false},
		{"header repeated joined by commas", headerPerm("x-role", exact("a,b")), nil, get("/", "X-Role", "a", "X-Role", "b"), true},
		{"header present", &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{Name: "x-role",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}}, nil, get("/", "X-Role", ""), true},
		{"header invert", &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{Name: "x-role", InvertMatch: true,
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact("admin")}}}}, nil, get("/", "X-Role", "user"), true},
		{"header invert missing", &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{Name: "x-role", InvertMatch: true,
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact("admin")}}}}, nil, get("/"), false},
		{":authority", headerPerm(":authority", exact("shop.example.com")), nil, get("/"), true},
		{":method", headerPerm(":method", exact("POST")), nil, on(get("/"), func(i *input) { i.method = "POST" }), true},
		{":path keeps the query", headerPerm(":path", exact("/a?b=1")), nil, get("/a?b=1"), true},
		{":scheme", headerPerm(":scheme", exact("https")), nil, on(get("/"), func(i *input) { i.tls = noCert }), true},
		{":scheme plain", headerPerm(":scheme", exact("https")), nil, get("/"), false},
		{"url_path drops the query", pathPerm(exact("/a")), nil, get("/a?b=1"), true},
		{"url_path raw", pathPerm(exact("/a%2Fb")), nil, get("/a%2Fb"), true},
		{"url_path prefix", pathPerm(prefixSM("/api/")), nil, get("/web/"), false},
		{"destination_port", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: 8080}}, nil, get("/"), true},
		{"destination_port other", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: 443}}, nil, get("/"), false},
		{"destination_port_range", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 8000, End: 8081}}}, nil, get("/"), true},
		{"destination_port_range end is exclusive", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 8000, End: 8080}}}, nil, get("/"), false},
		{"destination_ip", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.0.0.0", 8)}}, nil, get("/"), true},
		{"destination_ip other", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.2.0.0", 16)}}, nil, get("/"), false},
		{"destination_ip unknown", &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("0.0.0.0", 0)}}, nil, on(get("/"), func(i *input) { i.local = "" }), false},
		{"requested_server_name", &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: exact("shop.example.com")}}, nil, on(get("/"), func(i *input) { i.tls = withCert }), true},
		{"requested_server_name plain is empty", &rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: exact("")}}, nil, get("/"), true},
		{"and_rules", &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(pathPerm(exact("/a")), headerPerm(":method", exact("GET")))}}}, nil, get("/a"), true},
		{"and_rules one fails", &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(pathPerm(exact("/a")), headerPerm(":method", exact("PUT")))}}}, nil, get("/a"), false},
		{"or_rules", &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: perms(pathPerm(exact("/b")), headerPerm(":method", exact("GET")))}}}, nil, get("/a"), true},
		{"not_rule", &rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: pathPerm(exact("/a"))}}, nil, get("/a"), false},
		{"direct_remote_ip", nil, remoteID("192.168.0.0", 16), get("/"), true},
		{"direct_remote_ip other", nil, remoteID("192.169.0.0", 16), get("/"), false},
		{"direct_remote_ip v6 never matches v4", nil, remoteID("::", 0), get("/"), false},
		{"remote_ip is the peer", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: cidr("192.168.1.7", 32)}},
			get("/", "X-Forwarded-For", "10.9.9.9"), true},
		{"source_ip", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_SourceIp{SourceIp: cidr("192.168.1.0", 24)}}, get("/"), true},
		{"principal header", nil, hdrID(headerPerm("x-user", exact("alice"))), get("/", "X-User", "alice"), true},
		{"principal url_path", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_UrlPath{UrlPath: &matcherv3.PathMatcher{
			Rule: &matcherv3.PathMatcher_Path{Path: exact("/a")}}}}, get("/a?x"), true},
		{"and_ids", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids(anyID, remoteID("192.168.1.7", 32))}}}, get("/"), true},
		{"or_ids", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ids(remoteID("10.0.0.0", 8), remoteID("192.168.1.7", 32))}}}, get("/"), true},
		{"not_id", nil, &rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: remoteID("192.168.1.7", 32)}}, get("/"), false},
		{"authenticated URI SAN", nil, authn(exact(spiffe)), on(get("/"), func(i *input) { i.tls = withCert }), true},
		{"authenticated DNS SAN", nil, authn(exact("client.example.com")), on(get("/"), func(i *input) { i.tls = withCert }), true},
		{"authenticated subject", nil, authn(exact("CN=ops")), on(get("/"), func(i *input) { i.tls = subjectOnly }), true},
		{"authenticated subject RFC 2253", nil, authn(exact("CN=shop,O=acme")), on(get("/"), func(i *input) { i.tls = withCert }), true},
		{"authenticated other", nil, authn(prefixSM("spiffe://other/")), on(get("/"), func(i *input) { i.tls = withCert }), false},
		{"authenticated without a client certificate", nil, authn(prefixSM("spiffe://")), on(get("/"), func(i *input) { i.tls = noCert }), false},
		{"authenticated plain text", nil, authn(anything), get("/"), false},
		// Envoy matches principal_name against the subject, "" without a certificate.
		{"authenticated empty subject", nil, authn(anything), on(get("/"), func(i *input) { i.tls = noCert }), true},
		{"authenticated any TLS peer", nil, authn(nil), on(get("/"), func(i *input) { i.tls = noCert }), true},
		{"authenticated any, plain text", nil, authn(nil), get("/"), false},
	}
	for _, c := range cases {
		perm, id := c.perm, c.id
		if perm == nil {
			perm = anyPerm
		}
		if id == nil {
			id = anyID
		}
		r := httptest.NewRequest(c.in.method, c.in.target, nil)
		r.Host = c.in.host
		r.TLS = c.in.tls
		for i := 0; i+1 < len(c.in.hdr); i += 2 {
			r.Header.Add(c.in.hdr[i], c.in.hdr[i+1])
		}
		in := rbacInput{r: r, port: 8080, tls: c.in.tls}
		if c.in.local != "" {
			in.local = netip.MustParseAddr(c.in.local)
		}
		in.remote = netip.MustParseAddr(c.in.remote)
		pols := map[string]*rbacv3.Policy{"p": policy(perms(perm), ids(id))}
		if got := rbacEngineOf(t, rbacv3.RBAC_ALLOW, pols).allows(&in); got != c.want {
			t.Errorf("%s: ALLOW allows = %v, want %v", c.name, got, c.want)
		}
		if got := rbacEngineOf(t, rbacv3.RBAC_DENY, pols).allows(&in); got == c.want {
			t.Errorf("%s: DENY allows = %v, want %v", c.name, got, !c.want)
		}
	}

	// A policy needs a matching permission AND a matching principal; a request needs one policy.
	in := rbacInput{r: httptest.NewRequest("GET", "/a", nil), remote: netip.MustParseAddr("192.168.1.7")}
	for name, tc := range map[string]struct {
		pols map[string]*rbacv3.Policy
		want bool
	}{
		"permission without principal": {map[string]*rbacv3.Policy{"p": policy(perms(pathPerm(exact("/a"))), ids(remoteID("10.0.0.0", 8)))}, false},
		"principal without permission": {map[string]*rbacv3.Policy{"p": policy(perms(pathPerm(exact("/b"))), ids(anyID))}, false},
		"one policy of two":            {map[string]*rbacv3.Policy{"no": policy(perms(pathPerm(exact("/b"))), ids(anyID)), "yes": policy(perms(anyPerm), ids(anyID))}, true},
		"no policies":                  {nil, false},
	} {
		if got := rbacEngineOf(t, rbacv3.RBAC_ALLOW, tc.pols).allows(&in); got != tc.want {
			t.Errorf("ALLOW %s: %v, want %v", name, got, tc.want)
		}
	}
	// DENY without policies denies nothing.
	if !rbacEngineOf(t, rbacv3.RBAC_DENY, nil).allows(&in) {
		t.Error("DENY without policies denied")
	}
}

// TestCidrRange: Envoy's CidrRange, IPv4 and IPv6: host bits cleared, prefix_len clamped,
// versions never mixed, a zero-length prefix matching its whole version.
func TestCidrRange(t *testing.T) {
	for _, c := range []struct {
		prefix string
		bits   uint32
		addr   string
		want   bool
	}{
		{"10.0.0.0", 8, "10.255.1.2", true},
		{"10.0.0.0", 8, "11.0.0.1", false},
		{"10.1.2.3", 8, "10.9.9.9", true}, // host bits of the prefix are cleared
		{"192.168.1.0", 24, "192.168.1.255", true},
		{"192.168.1.0", 24, "192.168.2.0", false},
		{"192.168.1.5", 32, "192.168.1.5", true},
		{"192.168.1.5", 32, "192.168.1.6", false},
		{"192.168.1.5", 33, "192.168.1.5", true}, // clamped to 32
		{"192.168.1.5", 31, "192.168.1.4", true},
		{"0.0.0.0", 0, "203.0.113.9", true},
		{"0.0.0.0", 0, "2001:db8::1", false},
		{"127.0.0.1", 32, "::ffff:127.0.0.1", false}, // addresses are unmapped before, not here
		{"2001:db8::", 32, "2001:db8:ffff::1", true},
		{"2001:db8::", 32, "2001:db9::1", false},
		{"2001:db8::1", 128, "2001:db8::1", true},
		{"2001:db8::1", 200, "2001:db8::1", true}, // clamped to 128
		{"2001:db8::1", 127, "2001:db8::", true},
		{"2001:db8::1", 128, "2001:db8::2", false},
		{"::", 0, "::1", true},
		{"::", 0, "127.0.0.1", false},
		{"fe80::", 10, "fe80::1%eth0", true}, // a zone does not hide the address
		{"::ffff:10.0.0.0", 104, "::ffff:10.1.2.3", true},
	} {
		pfx, err := decodeCidr("c", cidr(c.prefix, c.bits))
		if err != nil {
			t.Fatalf("%s/%d: %v", c.prefix, c.bits, err)
		}
		if got := cidrContains(pfx, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("%s/%d contains %s = %v, want %v", c.prefix, c.bits, c.addr, got, c.want)
		}
	}
	if cidrContains(netip.MustParsePrefix("0.0.0.0/0"), netip.Addr{}) {
		t.Error("an unknown address matched")
	}
	// An unset prefix_len is 0, as Envoy reads the wrapper.
	pfx, err := decodeCidr("c", &core.CidrRange{AddressPrefix: "10.0.0.1"})
	if err != nil || pfx.Bits() != 0 || !cidrContains(pfx, netip.MustParseAddr("8.8.8.8")) {
		t.Errorf("unset prefix_len: %v, %v", pfx, err)
	}
	for _, bad := range []string{"", "10.0.0.0/8", "host.example", "fe80::1%eth0", "10.0.0"} {
		if _, err := decodeCidr("c", cidr(bad, 8)); err == nil || !strings.Contains(err.Error(), "c.address_prefix:") {
			t.Errorf("%q: %v, want an error naming address_prefix", bad, err)
		}
	}
}
