package proxy

import (
	"crypto/tls"
	"slices"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// An HTTPS listener with several filter chains chosen by SNI: what the compiler emits for an
// Istio Gateway whose HTTPS servers on one port present different certificates. The
// tls_inspector reads the SNI, the chain is chosen as for TLS passthrough (tcp_chains.go),
// and may be a passthrough one on the same listener (chains_inspected.go); the handshake
// uses that chain's DownstreamTlsContext, and every request on the connection is served by
// that chain's HttpConnectionManager: its routes and its HTTP filters.

// httpsChains is such a listener's validated chains.
type httpsChains struct {
	serverNameChains
	chains []httpChain
}

// httpChain is one filter chain ending in the HttpConnectionManager: the server names it is
// chosen by (none: the catch-all), its TLS, where its routes come from and its HTTP filters.
type httpChain struct {
	serverNames []string
	tls         *tls.Config
	routeName   string
	// scoped, when set, says routeName names scoped routes (scoped_routes.go).
	scoped  *scopeKeyBuilder
	filters httpFilters
}

// chainsEndInHCM reports whether the chains of a listener without the tls_inspector end in
// the HttpConnectionManager (true) or not (false: the TCP proxy shape). Mixing both is
// refused there: without an SNI nothing could choose between them. With the tls_inspector
// mixing is Envoy's TLS passthrough beside termination (chains_inspected.go).
func chainsEndInHCM(l *listenerv3.Listener) (bool, error) {
	first := -1
	http := false
	for i, fc := range l.GetFilterChains() {
		fs := fc.GetFilters()
		if len(fs) == 0 {
			continue // refused by the chain's own decoding
		}
		last := fs[len(fs)-1]
		isHCM := last.GetTypedConfig().GetTypeUrl() == hcmTypeURL
		if first < 0 {
			first, http = i, isHCM
			continue
		}
		if isHCM != http {
			return false, fieldPath("filter_chains").index(i).field("filters").index(len(fs)-1).errorf(
				"%q: mixing filter chains that end in %s with chains that do not on one listener is not supported (filter_chains[%d] ends in %q)",
				last.GetName(), hcmFilterName, first, l.GetFilterChains()[first].GetFilters()[len(l.GetFilterChains()[first].GetFilters())-1].GetName())
		}
	}
	return http, nil
}

// decodeHTTPSChain decodes one chain ending in the HttpConnectionManager on a listener whose
// chains are chosen by SNI. It must terminate TLS: a plain-text chain has no SNI, so Envoy
// would give it only the connections no other chain matches, and it is refused rather than
// served otherwise.
func decodeHTTPSChain(p fieldPath, l *listenerv3.Listener, fc *listenerv3.FilterChain, names []string) (httpChain, error) {
	var none httpChain
	ts := fc.GetTransportSocket()
	if ts == nil {
		return none, p.field("transport_socket").errorf("required: a listener whose %s chains are chosen by SNI must terminate TLS on each (plain-text HTTP has no SNI to be chosen by)",
			hcmFilterName)
	}
	serverTLS, err := decodeDownstreamTLS(p.field("transport_socket"), ts)
	if err != nil {
		return none, err
	}
	_, fp, f, last, err := decodeChainFilters(p, fc)
	if err != nil {
		return none, err
	}
	routeName, scoped, filters, err := decodeHCMFilter(fp, l, f, last)
	if err != nil {
		return none, err
	}
	return httpChain{serverNames: names, tls: serverTLS, routeName: routeName, scoped: scoped, filters: filters}, nil
}

// routeNames are the route configurations (or scoped routes) the chains name, each once.
func (h *httpsChains) routeNames() []string {
	var out []string
	for _, c := range h.chains {
		if !slices.Contains(out, c.routeName) {
			out = append(out, c.routeName)
		}
	}
	return out
}

// anyScoped reports whether a chain takes its routes from scoped routes.
func (h *httpsChains) anyScoped() bool {
	return slices.ContainsFunc(h.chains, func(c httpChain) bool { return c.scoped != nil })
}
