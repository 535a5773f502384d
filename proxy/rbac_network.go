package proxy

import (
	"crypto/tls"
	"net"
	"net/netip"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	netrbacv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Envoy's RBAC network filter (envoy.filters.network.rbac) in a TCP proxy listener's filter
// chain, before tcp_proxy: Istio's shape for an AuthorizationPolicy on TCP traffic. It reuses
// the HTTP filter's policies and evaluator (rbac.go, rbac_eval.go) over what a connection
// has: its peer and local addresses, the listener's configured port, and, when the listener
// terminates TLS, the SNI and the client certificate.

const netRBACFilterName = "envoy.filters.network.rbac"

var netRBACTypeURL = typeURLOf(&netrbacv3.RBAC{})

func isNetRBAC(name string, tc *anypb.Any) bool {
	if tc != nil {
		return tc.GetTypeUrl() == netRBACTypeURL
	}
	return name == netRBACFilterName
}

// decodeNetRBACFilter decodes one network RBAC filter's typed_config, appending it to chain.
func decodeNetRBACFilter(p fieldPath, a *anypb.Any, chain *rbacChain) error {
	if a == nil {
		return p.errorf("required: the network RBAC filter needs its configuration")
	}
	var m netrbacv3.RBAC
	if err := a.UnmarshalTo(&m); err != nil {
		return p.errorf("%v", err)
	}
	if err := validateAll(p, &m); err != nil {
		return err
	}
	// stat_prefix and shadow_rules_stat_prefix only name Envoy's counters (this proxy has its
	// own, by listener). matcher and shadow_matcher are not implemented; delay_deny would hold
	// a denied connection open, which nothing here does: all three NACK.
	if err := onlyFields(p, &m, "rules", "shadow_rules", "stat_prefix", "shadow_rules_stat_prefix", "enforcement_type"); err != nil {
		return err
	}
	// CONTINUOUS re-evaluates the policies as data arrives, for filters (Mongo, MySQL, Kafka)
	// that emit dynamic metadata per message. Here a network RBAC can read only the
	// connection's addresses, port and TLS, which never change on a connection, and metadata
	// matchers are refused: every later evaluation would repeat the first, so both
	// enforcement types are accepted and evaluated once.
	switch et := m.GetEnforcementType(); et {
	case netrbacv3.RBAC_ONE_TIME_ON_FIRST_BYTE, netrbacv3.RBAC_CONTINUOUS:
	default:
		return p.field("enforcement_type").errorf("%s is not supported", et)
	}
	chain.network = true
	return decodeRBACRules(p, m.GetRules(), m.GetShadowRules(), chain)
}

// httpOnly refuses a matcher that reads the HTTP request in a network RBAC: a connection has
// no headers, path or jwt_authn metadata, so Envoy could never match it either, and a rule
// that silently never matches would turn a DENY into an allow.
func (c *rbacChain) httpOnly(p fieldPath, field string) error {
	if c.network {
		return p.field(field).errorf("is HTTP-level: a network RBAC filter (%s) sees a connection, not a request", netRBACFilterName)
	}
	return nil
}

// admitConn evaluates the chain once for a new downstream connection. Envoy evaluates on the
// connection's first bytes of data; this proxy decides at accept (after the TLS handshake,
// which SNI and the client certificate need) and before connecting upstream, so a denied
// connection never reaches a backend and a client that sends nothing is judged too. A denial
// and shadow denials are counted per listener.
func (c *rbacChain) admitConn(down net.Conn, reg *statsRegistry) bool {
	in := c.connInput(down)
	if c.needTLS {
		if tc, ok := down.(*tls.Conn); ok {
			cs := tc.ConnectionState()
			in.tls = &cs
		}
	}
	return c.judgeConn(&in, reg)
}

// connInput is what the rules read of a connection's addresses, only those they need.
func (c *rbacChain) connInput(down net.Conn) rbacInput {
	in := rbacInput{port: c.port}
	if c.needRemote {
		in.remote = addrOf(down.RemoteAddr())
	}
	if c.needLocal {
		in.local = addrOf(down.LocalAddr())
	}
	return in
}

// admitPassthrough is admitConn on a TLS passthrough listener: the connection is not TLS here,
// but requested_server_name matches the SNI the tls_inspector read, as in Envoy; authenticated
// never matches (withoutTLSPeer), there being no TLS peer.
func (c *rbacChain) admitPassthrough(down net.Conn, sni string, reg *statsRegistry) bool {
	in := c.connInput(down)
	if c.needTLS {
		in.tls = &tls.ConnectionState{ServerName: sni}
	}
	return c.judgeConn(&in, reg)
}

// judgeConn decides and counts a connection's denial and shadow denials per listener.
func (c *rbacChain) judgeConn(in *rbacInput, reg *statsRegistry) bool {
	shadowDenied, ok := c.decide(in)
	if shadowDenied > 0 {
		c.counters(reg).tcpRBACShadowDenied.Add(shadowDenied)
	}
	if !ok {
		c.counters(reg).tcpRBACDenied.Add(1)
	}
	return ok
}

// withoutTLSPeer makes every authenticated matcher of a passthrough chain match nothing, as
// Envoy's does on a connection it does not terminate TLS for (it has no ssl()): admitPassthrough
// hands the evaluator a TLS state only so that requested_server_name can read the SNI.
func (c *rbacChain) withoutTLSPeer() {
	never := rbacMatcher{kind: rbNot, children: []rbacMatcher{{kind: rbAny}}}
	var walk func(ms []rbacMatcher)
	walk = func(ms []rbacMatcher) {
		for i := range ms {
			if ms[i].kind == rbAuthenticated {
				ms[i] = never
				continue
			}
			walk(ms[i].children)
		}
	}
	for _, f := range c.filters {
		for _, e := range []*rbacEngine{f.rules, f.shadow} {
			if e == nil {
				continue
			}
			for i := range e.policies {
				walk(e.policies[i].permissions)
				walk(e.policies[i].principals)
			}
		}
	}
}

// addrOf is a socket address's IP, IPv4-mapped IPv6 unmapped as Envoy does.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// decodeNetworkFilters reads a filter chain's leading network RBAC filters and returns them
// (nil when none enforce or count anything) with the index of the terminal filter, which the
// caller decodes. Only RBAC may precede the terminal filter (tcp_proxy, which the caller
// checks): any other network filter is refused rather than skipped.
func decodeNetworkFilters(p fieldPath, filters []*listenerv3.Filter) (*rbacChain, int, error) {
	if len(filters) == 0 {
		return nil, 0, p.errorf("one terminal filter (%s or %s) is required", hcmFilterName, tcpProxyFilterName)
	}
	last := len(filters) - 1
	var chain rbacChain
	seen := false
	for i, f := range filters[:last] {
		fp := p.index(i)
		if err := onlyFields(fp, f, "name", "typed_config"); err != nil {
			return nil, 0, err
		}
		if !isNetRBAC(f.GetName(), f.GetTypedConfig()) {
			return nil, 0, fp.errorf("unsupported network filter %q (%s) before the terminal filter: only %s may come before %s",
				f.GetName(), f.GetTypedConfig().GetTypeUrl(), netRBACFilterName, tcpProxyFilterName)
		}
		if err := decodeNetRBACFilter(fp.field("typed_config"), f.GetTypedConfig(), &chain); err != nil {
			return nil, 0, err
		}
		seen = true
	}
	if seen && isNetRBAC(filters[last].GetName(), filters[last].GetTypedConfig()) {
		return nil, 0, p.index(last).errorf("the %s filter must come before %s, which must be last", netRBACFilterName, tcpProxyFilterName)
	}
	if len(chain.filters) == 0 {
		return nil, last, nil
	}
	return &chain, last, nil
}
