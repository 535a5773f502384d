package proxy

import (
	"net"
	"strings"
	"testing"
	"time"

	xdsmatcherv3 "github.com/cncf/xds/go/xds/type/matcher/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Builders of the compiler's TCP shape: [network RBAC DENY]?, [network RBAC ALLOW]?, tcp_proxy.

func netRBACFilter(m *netrbacv3.RBAC) *listenerv3.Filter {
	return &listenerv3.Filter{Name: netRBACFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(m)}}
}

func netRBACRules(action rbacv3.RBAC_Action, policies map[string]*rbacv3.Policy) *netrbacv3.RBAC {
	return &netrbacv3.RBAC{StatPrefix: "tcp.", Rules: &rbacv3.RBAC{Action: action, Policies: policies}}
}

// tcpRBACListener is a TCP proxy listener to cluster "a" on port, its RBAC filters first.
func tcpRBACListener(name string, port uint32, rbacs ...*netrbacv3.RBAC) *listenerv3.Listener {
	l := tcpProxyListener(name, port, toTCPCluster("a"))
	var fs []*listenerv3.Filter
	for _, m := range rbacs {
		fs = append(fs, netRBACFilter(m))
	}
	l.FilterChains[0].Filters = append(fs, l.FilterChains[0].Filters...)
	return l
}

func portPerm(port uint32) *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: port}}
}

// TestTCPRBACDecodeAccepts: DENY then ALLOW before tcp_proxy, every connection-level matcher,
// shadow rules and both enforcement types.
func TestTCPRBACDecodeAccepts(t *testing.T) {
	every := policy(
		perms(anyPerm, portPerm(9000),
			&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPortRange{DestinationPortRange: &typev3.Int32Range{Start: 9000, End: 9001}}},
			&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.0.0.0", 8)}},
			&rbacv3.Permission{Rule: &rbacv3.Permission_RequestedServerName{RequestedServerName: prefixSM("db.")}},
			&rbacv3.Permission{Rule: &rbacv3.Permission_NotRule{NotRule: anyPerm}},
			&rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: perms(anyPerm)}}},
			&rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: perms(anyPerm)}}}),
		ids(anyID, remoteID("127.0.0.0", 8),
			&rbacv3.Principal{Identifier: &rbacv3.Principal_RemoteIp{RemoteIp: cidr("::1", 128)}},
			&rbacv3.Principal{Identifier: &rbacv3.Principal_SourceIp{SourceIp: cidr("10.0.0.0", 8)}},
			&rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{
				PrincipalName: prefixSM("spiffe://cluster.local/")}}},
			&rbacv3.Principal{Identifier: &rbacv3.Principal_NotId{NotId: anyID}},
			&rbacv3.Principal{Identifier: &rbacv3.Principal_AndIds{AndIds: &rbacv3.Principal_Set{Ids: ids(anyID)}}},
			&rbacv3.Principal{Identifier: &rbacv3.Principal_OrIds{OrIds: &rbacv3.Principal_Set{Ids: ids(anyID)}}}))
	deny := netRBACRules(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"ns.deny": every})
	allow := netRBACRules(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"ns.allow": every})
	allow.ShadowRules = &rbacv3.RBAC{Action: rbacv3.RBAC_DENY}
	allow.ShadowRulesStatPrefix = "istio_dry_run_allow_"
	allow.EnforcementType = netrbacv3.RBAC_CONTINUOUS
	lc, err := decodeListener(tcpRBACListener("tcp", 9000, deny, allow))
	if err != nil {
		t.Fatal(err)
	}
	c := lc.tcp.chains[0].rbac
	if c == nil || len(c.filters) != 2 || !c.filters[0].rules.deny || c.filters[1].rules.deny || c.filters[1].shadow == nil {
		t.Fatalf("decoded %+v", c)
	}
	if c.listener != "tcp" || c.port != 9000 || !c.needRemote || !c.needLocal || !c.needTLS || !c.network {
		t.Fatalf("chain %+v", c)
	}
	// A filter with neither rules nor shadow rules enforces nothing: no chain, no cost.
	lc, err = decodeListener(tcpRBACListener("tcp", 9000, &netrbacv3.RBAC{StatPrefix: "tcp."}))
	if err != nil || lc.tcp.chains[0].rbac != nil {
		t.Fatalf("empty RBAC: %v, %+v", err, lc)
	}
	lc, err = decodeListener(tcpProxyListener("tcp", 9000, toTCPCluster("a")))
	if err != nil || lc.tcp.chains[0].rbac != nil {
		t.Fatalf("no RBAC: %v, %+v", err, lc)
	}
}

// TestTCPRBACDecodeRejects: HTTP-level matchers, unimplemented fields and misplaced filters
// are NACKs naming the field.
func TestTCPRBACDecodeRejects(t *testing.T) {
	const f0 = "filter_chains[0].filters[0]"
	const pol = f0 + `.typed_config.rules.policies["p"]`
	withPolicy := func(p *rbacv3.Policy) *listenerv3.Listener {
		return tcpRBACListener("tcp", 9000, netRBACRules(rbacv3.RBAC_ALLOW, map[string]*rbacv3.Policy{"p": p}))
	}
	with := func(edit func(*netrbacv3.RBAC)) *listenerv3.Listener {
		m := netRBACRules(rbacv3.RBAC_ALLOW, nil)
		edit(m)
		return tcpRBACListener("tcp", 9000, m)
	}
	mm := &matcherv3.MetadataMatcher{Filter: jwtFilterName,
		Path:  []*matcherv3.MetadataMatcher_PathSegment{{Segment: &matcherv3.MetadataMatcher_PathSegment_Key{Key: "payload"}}},
		Value: &matcherv3.ValueMatcher{MatchPattern: &matcherv3.ValueMatcher_PresentMatch{PresentMatch: true}}}
	metaPerm := &rbacv3.Permission{Rule: &rbacv3.Permission_Metadata{Metadata: mm}}
	metaID := &rbacv3.Principal{Identifier: &rbacv3.Principal_Metadata{Metadata: mm}}
	nested := &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: perms(pathPerm(prefixSM("/")))}}}
	rbacLast := tcpProxyListener("tcp", 9000, toTCPCluster("a"))
	rbacLast.FilterChains[0].Filters = append(rbacLast.FilterChains[0].Filters, netRBACFilter(netRBACRules(rbacv3.RBAC_ALLOW, nil)))
	rbacOnly := tcpProxyListener("tcp", 9000, toTCPCluster("a"))
	rbacOnly.FilterChains[0].Filters = []*listenerv3.Filter{netRBACFilter(netRBACRules(rbacv3.RBAC_ALLOW, nil))}
	rbacHCM := httpListener("gw", "0.0.0.0", 8080, "r", routerFilter())
	rbacHCM.FilterChains[0].Filters = append([]*listenerv3.Filter{netRBACFilter(netRBACRules(rbacv3.RBAC_ALLOW, nil))}, rbacHCM.FilterChains[0].Filters...)
	other := tcpRBACListener("tcp", 9000)
	other.FilterChains[0].Filters = append([]*listenerv3.Filter{{Name: "envoy.filters.network.local_ratelimit",
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(&core.Address{})}}}, other.FilterChains[0].Filters...)
	for _, tc := range []struct {
		name string
		l    *listenerv3.Listener
		want string
	}{
		{"header permission", withPolicy(policy(perms(headerPerm("x", prefixSM("a"))), ids(anyID))), pol + ".permissions[0].header: is HTTP-level"},
		{"url_path permission", withPolicy(policy(perms(pathPerm(prefixSM("/"))), ids(anyID))), pol + ".permissions[0].url_path: is HTTP-level"},
		{"metadata permission", withPolicy(policy(perms(metaPerm), ids(anyID))), pol + ".permissions[0].metadata: is HTTP-level"},
		{"nested url_path", withPolicy(policy(perms(nested), ids(anyID))), pol + ".permissions[0].or_rules.rules[0].url_path: is HTTP-level"},
		{"header principal", withPolicy(policy(perms(anyPerm), ids(hdrPrincipal("x", prefixSM("a"))))), pol + ".principals[0].header: is HTTP-level"},
		{"url_path principal", withPolicy(policy(perms(anyPerm), ids(&rbacv3.Principal{Identifier: &rbacv3.Principal_UrlPath{UrlPath: &matcherv3.PathMatcher{
			Rule: &matcherv3.PathMatcher_Path{Path: prefixSM("/")}}}}))), pol + ".principals[0].url_path: is HTTP-level"},
		{"metadata principal", withPolicy(policy(perms(anyPerm), ids(metaID))), pol + ".principals[0].metadata: is HTTP-level"},
		{"matcher", with(func(m *netrbacv3.RBAC) { m.Matcher = &xdsmatcherv3.Matcher{} }), f0 + ".typed_config.matcher: field not supported"},
		{"shadow matcher", with(func(m *netrbacv3.RBAC) { m.ShadowMatcher = &xdsmatcherv3.Matcher{} }), f0 + ".typed_config.shadow_matcher: field not supported"},
		{"delay deny", with(func(m *netrbacv3.RBAC) { m.DelayDeny = durationpb.New(time.Second) }), f0 + ".typed_config.delay_deny: field not supported"},
		{"log action", with(func(m *netrbacv3.RBAC) { m.Rules.Action = rbacv3.RBAC_LOG }), f0 + ".typed_config.rules.action: LOG is not supported"},
		{"no stat prefix", with(func(m *netrbacv3.RBAC) { m.StatPrefix = "" }), "StatPrefix"},
		{"rbac after tcp_proxy", rbacLast, "filter_chains[0].filters[0]: unsupported network filter"},
		{"rbac alone", rbacOnly, `filter_chains[0].filters[0]: unsupported network filter "envoy.filters.network.rbac"`},
		{"rbac before hcm", rbacHCM, "filter_chains[0].filters[1]: the envoy.filters.network.rbac filter is supported only before envoy.filters.network.tcp_proxy"},
		{"other filter first", other, `filter_chains[0].filters[0]: unsupported network filter "envoy.filters.network.local_ratelimit"`},
	} {
		_, err := decodeListener(tc.l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestTCPRBACNoAlloc: judging a connection (addresses, port, the rules of two filters)
// allocates nothing, as the HTTP path's shared decide does not.
func TestTCPRBACNoAlloc(t *testing.T) {
	lc, err := decodeListener(tcpRBACListener("tcp", 9000, netRBACRules(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{
		"d": policy(perms(&rbacv3.Permission{Rule: &rbacv3.Permission_DestinationIp{DestinationIp: cidr("10.0.0.0", 8)}}), ids(anyID))}),
		netRBACRules(rbacv3.RBAC_ALLOW, allowFrom(9000, "127.0.0.0", 8))))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var reg statsRegistry
	if !lc.tcp.chains[0].rbac.admitConn(c, &reg) {
		t.Fatal("a loopback peer on the configured port was denied")
	}
	if n := testing.AllocsPerRun(100, func() { lc.tcp.chains[0].rbac.admitConn(c, &reg) }); n != 0 {
		t.Fatalf("admitConn allocates %v times per connection", n)
	}
}
