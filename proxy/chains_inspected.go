package proxy

import (
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
)

// A listener whose filter chains are chosen by SNI may end each chain in tcp_proxy (TLS
// passthrough) or in the HttpConnectionManager (TLS terminated with that chain's
// certificate), and with the tls_inspector it may mix both, as Envoy allows and Istio emits
// for a Gateway port serving some hosts with tls.mode PASSTHROUGH and others with SIMPLE or
// MUTUAL. Every listener with the tls_inspector is served by one entry (tcp_proxy.go): the
// inspector reads the ClientHello, the chain is chosen once, and a terminating chain is
// handed the connection, its ClientHello replayed, to be served as an HTTPS chain
// (https_serve.go). HTTPS listeners without the inspector enter the same way, their one
// chain taking every connection.

// decodeMatchedChains decodes a listener with listener filters, several filter chains or a
// filter_chain_match. With the tls_inspector, tcp holds every chain in order (a terminating
// one by its index in sni) and sni the terminating chains, nil when there are none. Without
// it, the chains must all be of one kind: tcp for tcp_proxy, sni for the
// HttpConnectionManager.
func decodeMatchedChains(l *listenerv3.Listener) (tcp *tcpListenerConfig, sni *httpsChains, err error) {
	if len(l.GetListenerFilters()) == 0 {
		if _, err := chainsEndInHCM(l); err != nil {
			return nil, nil, err
		}
	}
	insp, match, names, err := decodeChainMatches(l)
	if err != nil {
		return nil, nil, err
	}
	tcp = &tcpListenerConfig{serverNameChains: match, inspector: insp}
	https := &httpsChains{}
	for i, fc := range l.GetFilterChains() {
		p := fieldPath("filter_chains").index(i)
		if endsInHCM(fc) {
			c, err := decodeHTTPSChain(p, l, fc, names[i])
			if err != nil {
				return nil, nil, err
			}
			tcp.chains = append(tcp.chains, tcpFilterChain{serverNames: names[i], http: len(https.chains)})
			https.chains = append(https.chains, c)
			continue
		}
		c, err := decodeTCPChain(p, l, fc, insp, names[i])
		if err != nil {
			return nil, nil, err
		}
		tcp.chains = append(tcp.chains, c)
	}
	// The terminating chains by server name, indexed among themselves, for a handshake that
	// chooses its own chain (a connection handed over by a configuration of one chain while
	// the listener's update waits for its clusters).
	https.byName = map[string]int{}
	for k, i := range match.byName {
		if h := tcp.chains[i].http; h >= 0 {
			https.byName[k] = h
		}
	}
	switch {
	case insp == nil && len(https.chains) > 0:
		return nil, https, nil // one catch-all chain terminating TLS: served as an HTTPS chain
	case len(https.chains) == 0:
		return tcp, nil, nil
	}
	return tcp, https, nil
}

// endsInHCM reports whether a chain's last filter is the HttpConnectionManager.
func endsInHCM(fc *listenerv3.FilterChain) bool {
	fs := fc.GetFilters()
	return len(fs) > 0 && fs[len(fs)-1].GetTypedConfig().GetTypeUrl() == hcmTypeURL
}

// choosesChains reports whether the listener's socket is served by the accept loop that
// chooses each connection's chain (tcp_proxy.go) and hands those that terminate TLS to the
// HTTPS servers: every listener with the tls_inspector, and every HTTPS listener, so an
// update may turn one into another on the same socket. Plain-text HTTP listeners are not.
func (l *listenerConfig) choosesChains() bool {
	return l.inspected() || (l.tcp == nil && l.terminatesTLS())
}

// inspected reports whether the listener's connections are first read by the tls_inspector,
// which chooses their chain: passthrough, terminating, or a mix.
func (l *listenerConfig) inspected() bool {
	return l.tcp != nil && l.tcp.inspector != nil
}
