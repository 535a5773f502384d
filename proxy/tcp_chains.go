package proxy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
)

// A TCP proxy listener's filter chains. Most have one, which takes every connection; a TLS
// passthrough listener (Istio's Gateway server with tls.mode PASSTHROUGH, or VirtualService
// tls routes) has the tls_inspector listener filter and one chain per set of server names,
// chosen per connection by the ClientHello's SNI as Envoy's FilterChainManager chooses, with
// TLS left to the backend.

const tlsInspectorName = "envoy.filters.listener.tls_inspector"

var tlsInspectorTypeURL = typeURLOf(&tlsinspectorv3.TlsInspector{})

// defaultListenerFiltersTimeout is Envoy's listener_filters_timeout when unset.
const defaultListenerFiltersTimeout = 15 * time.Second

// tcpListenerConfig is a TCP proxy listener's validated filter chains.
type tcpListenerConfig struct {
	chains []tcpFilterChain
	serverNameChains
	// inspector, when set, reads each connection's SNI first (tcp_inspect.go); when nil the
	// listener has one chain, which takes every connection.
	inspector *tlsInspector
}

// serverNameChains is how a listener's filter chains are chosen by SNI, shared by TLS
// passthrough (tcp_proxy chains) and TLS termination with a certificate per chain
// (https_chains.go).
type serverNameChains struct {
	// byName maps Envoy's server-name keys to chains: an exact name, ".example.com" for
	// "*.example.com", and "" for the chain without server_names (the catch-all).
	byName map[string]int
}

// tcpFilterChain is one filter chain: its server names (lower-cased, none for the
// catch-all), its network RBAC (nil when none) and its tcp_proxy; or, on a listener that
// mixes TLS passthrough with TLS termination (chains_inspected.go), http is the index of the
// HttpConnectionManager chain in the listener's httpsChains (-1: a tcp_proxy chain).
type tcpFilterChain struct {
	serverNames []string
	rbac        *rbacChain
	proxy       *tcpProxyConfig
	http        int
}

// singleTCPChain is the listener of one chain without filter_chain_match: every connection.
func singleTCPChain(proxy *tcpProxyConfig, rbac *rbacChain) *tcpListenerConfig {
	return &tcpListenerConfig{chains: []tcpFilterChain{{rbac: rbac, proxy: proxy, http: -1}}, serverNameChains: serverNameChains{byName: map[string]int{"": 0}}}
}

// decodeTCPChain decodes one tcp_proxy chain of a listener whose chains are chosen by SNI or
// listener filters: network RBAC filters then tcp_proxy, with no transport_socket.
func decodeTCPChain(p fieldPath, l *listenerv3.Listener, fc *listenerv3.FilterChain, insp *tlsInspector, names []string) (tcpFilterChain, error) {
	var none tcpFilterChain
	if fc.GetTransportSocket() != nil {
		return none, p.field("transport_socket").errorf("terminating TLS before %s on a listener whose chains are chosen by SNI or listener filters is not supported: only TLS passthrough (no transport_socket) is", tcpProxyFilterName)
	}
	rbac, fp, f, _, err := decodeChainFilters(p, fc)
	if err != nil {
		return none, err
	}
	if f.GetTypedConfig().GetTypeUrl() != tcpProxyTypeURL {
		return none, fp.errorf("unsupported network filter %q (%s): a listener whose chains are chosen by SNI or listener filters supports only %s and %s",
			f.GetName(), f.GetTypedConfig().GetTypeUrl(), tcpProxyFilterName, hcmFilterName)
	}
	proxy, err := decodeTCPProxy(fp.field("typed_config"), f.GetTypedConfig())
	if err != nil {
		return none, err
	}
	if rbac != nil {
		rbac.listener = l.GetName()
		rbac.port = l.GetAddress().GetSocketAddress().GetPortValue()
		if insp != nil {
			rbac.withoutTLSPeer()
		}
	}
	return tcpFilterChain{serverNames: names, rbac: rbac, proxy: proxy, http: -1}, nil
}

// decodeChainMatches reads what chooses a listener's filter chains: its listener filters
// (only tls_inspector) and each chain's filter_chain_match (only server_names). Two chains
// with the same matching rules are refused, as Envoy refuses them. names is parallel to
// the filter chains.
func decodeChainMatches(l *listenerv3.Listener) (insp *tlsInspector, match serverNameChains, names [][]string, err error) {
	if insp, err = decodeListenerFilters(l); err != nil {
		return nil, match, nil, err
	}
	match.byName = map[string]int{}
	names = make([][]string, len(l.GetFilterChains()))
	for i, fc := range l.GetFilterChains() {
		p := fieldPath("filter_chains").index(i)
		if err := onlyFields(p, fc, "filters", "name", "filter_chain_match", "transport_socket"); err != nil {
			return nil, match, nil, err
		}
		chainNames, err := decodeServerNames(p.field("filter_chain_match"), fc.GetFilterChainMatch(), insp != nil)
		if err != nil {
			return nil, match, nil, err
		}
		names[i] = chainNames
		keys := chainNames
		if len(chainNames) == 0 {
			keys = []string{""}
		}
		for _, k := range keys {
			if strings.HasPrefix(k, "*.") {
				k = k[1:]
			}
			if j, dup := match.byName[k]; dup {
				what := fmt.Sprintf("server name %q", k)
				if k == "" {
					what = "no server_names (the catch-all)"
				}
				return nil, match, nil, p.field("filter_chain_match").errorf("multiple filter chains with the same matching rules: %s, as filter_chains[%d]", what, j)
			}
			match.byName[k] = i
		}
	}
	return insp, match, names, nil
}

// decodeServerNames reads a filter_chain_match, which may hold only server_names, as Envoy
// reads them: lower-cased, "*." wildcards only at the start, and only with a tls_inspector,
// without which no connection has an SNI and Envoy would never choose the chain.
func decodeServerNames(p fieldPath, m *listenerv3.FilterChainMatch, inspector bool) ([]string, error) {
	if m == nil {
		return nil, nil
	}
	if err := onlyFields(p, m, "server_names"); err != nil {
		return nil, err
	}
	if len(m.GetServerNames()) > 0 && !inspector {
		return nil, p.field("server_names").errorf("needs the %s listener filter: without it no connection has an SNI to match", tlsInspectorName)
	}
	var names []string
	for i, n := range m.GetServerNames() {
		if strings.Contains(n, "*") && !strings.HasPrefix(n, "*.") {
			return nil, p.field("server_names").index(i).errorf("partial wildcard %q: only a leading \"*.\" is supported", n)
		}
		names = append(names, asciiLower(n))
	}
	return names, nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// decodeListenerFilters accepts only the tls_inspector, with an empty configuration, and
// the listener's timeout for it.
func decodeListenerFilters(l *listenerv3.Listener) (*tlsInspector, error) {
	if len(l.GetListenerFilters()) == 0 {
		return nil, nil
	}
	for i, lf := range l.GetListenerFilters() {
		p := fieldPath("listener_filters").index(i)
		if err := onlyFields(p, lf, "name", "typed_config"); err != nil {
			return nil, err
		}
		tc := lf.GetTypedConfig()
		if tc == nil {
			if lf.GetName() != tlsInspectorName {
				return nil, p.errorf("unsupported listener filter %q: only %s is supported", lf.GetName(), tlsInspectorName)
			}
			continue
		}
		if tc.GetTypeUrl() != tlsInspectorTypeURL {
			return nil, p.errorf("unsupported listener filter %q (%s): only %s is supported", lf.GetName(), tc.GetTypeUrl(), tlsInspectorName)
		}
		var m tlsinspectorv3.TlsInspector
		if err := tc.UnmarshalTo(&m); err != nil {
			return nil, p.field("typed_config").errorf("%v", err)
		}
		// Fingerprints, buffer sizes and closing on parse errors change what a connection
		// gets: refused rather than ignored.
		if err := onlyFields(p.field("typed_config"), &m); err != nil {
			return nil, err
		}
	}
	insp := &tlsInspector{timeout: defaultListenerFiltersTimeout, continueOnTimeout: l.GetContinueOnListenerFiltersTimeout()}
	if d := l.GetListenerFiltersTimeout(); d != nil {
		insp.timeout = d.AsDuration() // 0: no timeout, as Envoy
		if insp.timeout < 0 {
			return nil, fieldPath("listener_filters_timeout").errorf("must not be negative")
		}
	}
	return insp, nil
}

// match returns the chain for a connection's SNI ("" when it has none), or -1, as Envoy's
// findFilterChainForServerName: the exact name, then each wildcard from the most specific
// (".b.example.com", ".example.com", ".com" for "a.b.example.com"), then the catch-all.
func (t *serverNameChains) match(sni string) int {
	if i, ok := t.byName[sni]; ok {
		return i
	}
	pos := -1
	if len(sni) > 1 {
		if j := strings.IndexByte(sni[1:], '.'); j >= 0 {
			pos = j + 1
		}
	}
	for pos >= 0 && pos < len(sni)-1 {
		if i, ok := t.byName[sni[pos:]]; ok {
			return i
		}
		j := strings.IndexByte(sni[pos+1:], '.')
		if j < 0 {
			break
		}
		pos += 1 + j
	}
	if i, ok := t.byName[""]; ok {
		return i
	}
	return -1
}

// clusters names every cluster any chain may connect to, each once (none when t is nil).
func (t *tcpListenerConfig) clusters() []string {
	if t == nil {
		return nil
	}
	var out []string
	for _, c := range t.chains {
		if c.proxy == nil {
			continue // an HttpConnectionManager chain: its clusters come with its routes
		}
		for _, name := range c.proxy.clusters() {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}
