package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
)

// Serving an HTTPS listener whose filter chains are chosen by SNI (https_chains.go). The
// chain is chosen once per connection, by the tls_inspector from the ClientHello's server
// name before the handshake (tcp_proxy.go, chains_inspected.go): that choice gives the
// handshake its certificate and settings, and is remembered on the connection so every
// request on it is served by the same chain's routes and filters. No second lookup can
// disagree with the first. A connection no chain matches is closed before any certificate is
// presented.

// errNoFilterChain fails the handshake of a connection whose SNI no filter chain matches.
var errNoFilterChain = errors.New("no filter chain matches the server name")

// sniServing is what an HTTPS listener with SNI-chosen chains serves: its chains and, for
// each, the handler holding the chain's route table and HTTP filters. It is replaced whole
// by an update; a connection keeps the handler its handshake chose.
type sniServing struct {
	chains   *httpsChains
	handlers []*listenerHandler // parallel to chains.chains
	stats    *listenerStats     // no_filter_chain_match is counted here
}

// chainConn is a connection beneath TLS on an HTTPS listener, carrying the chain handler
// chosen for it (nil on a listener of one chain, whose handler is the listener's).
type chainConn struct {
	net.Conn
	handler atomic.Pointer[listenerHandler]
	// chosen, when set, is the TLS of the chain the tls_inspector chose before the handshake
	// (handler is then already that chain's): the handshake uses it, without a second lookup.
	chosen *tls.Config
}

// configForClient chooses the TLS configuration of one handshake: the chain the
// tls_inspector chose; on a listener with SNI-chosen chains and no inspector (one catch-all
// chain), the chain the lower-cased server name matches, recorded on the connection;
// otherwise the listener's one configuration.
func (b *boundListener) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cc, _ := hello.Conn.(*chainConn)
	if cc != nil && cc.chosen != nil {
		return cc.chosen, nil
	}
	s := b.sni.Load()
	if s == nil {
		return b.tls.Load(), nil
	}
	i := s.chains.match(asciiLower(hello.ServerName))
	if i < 0 {
		s.stats.tcpNoFilterChainMatch.Add(1) // Envoy's no_filter_chain_match
		return nil, errNoFilterChain
	}
	if cc != nil {
		cc.handler.Store(s.handlers[i])
	}
	return s.chains.chains[i].tls, nil
}

// chainDispatch serves each request with the handler of the chain its connection's
// handshake chose, or the listener's own handler when it has one chain.
type chainDispatch struct{ b *boundListener }

func (d chainDispatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := chainHandlerOf(requestConn(w, r)); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	d.b.h.ServeHTTP(w, r)
}

// chainHandlerOf finds the chainConn beneath a request's connection: the TLS connection the
// lean server reads, or the same behind the prefix replayed for HTTP/2.
func chainHandlerOf(c net.Conn) *listenerHandler {
	if pc, ok := c.(*prefixedConn); ok {
		c = pc.Conn
	}
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil
	}
	if cc, ok := tc.NetConn().(*chainConn); ok {
		return cc.handler.Load()
	}
	return nil
}

// newSNIServing gives each chain of cfg a handler. A chain keeps the handler (and so the
// route table, until its routes are relinked) of a previous chain with the same route
// source, else of one with the same server names, so an update fails no request while
// routes it names arrive; other chains start without a table, serving 503 until their
// routes arrive, as a new listener does.
func newSNIServing(cfg *httpsChains, prev *sniServing, fwd *forwarder, stats *listenerStats) *sniServing {
	s := &sniServing{chains: cfg, handlers: make([]*listenerHandler, len(cfg.chains)), stats: stats}
	var prevChains []httpChain
	var prevHandlers []*listenerHandler
	if prev != nil {
		prevChains, prevHandlers = prev.chains.chains, prev.handlers
	}
	used := make([]bool, len(prevHandlers))
	take := func(same func(httpChain, httpChain) bool, c httpChain) *listenerHandler {
		for j, pc := range prevChains {
			if !used[j] && same(pc, c) {
				used[j] = true
				return prevHandlers[j]
			}
		}
		return nil
	}
	sameRoutes := func(a, b httpChain) bool { return a.routeName == b.routeName && (a.scoped == nil) == (b.scoped == nil) }
	sameNames := func(a, b httpChain) bool { return slices.Equal(a.serverNames, b.serverNames) }
	for i, c := range cfg.chains {
		s.handlers[i] = take(sameRoutes, c)
	}
	for i, c := range cfg.chains {
		if s.handlers[i] != nil {
			continue
		}
		h := &listenerHandler{fwd: fwd}
		if was := take(sameNames, c); was != nil {
			h.table.Store(was.table.Load())
		}
		s.handlers[i] = h
	}
	for i := range cfg.chains {
		f := &cfg.chains[i].filters
		if old := s.handlers[i].filters.Load(); old != nil {
			f.jwt.keepJWKS(old.jwt)
		}
		s.handlers[i].filters.Store(f)
	}
	return s
}

// oneChainServing is a listener of one HTTP chain seen as SNI-chosen chains, so that when an
// update gives it several, the chain with its routes keeps its table (h's) meanwhile; nil
// for any other listener.
func oneChainServing(cfg *listenerConfig, h *listenerHandler) *sniServing {
	if cfg == nil || cfg.tcp != nil || cfg.sni != nil {
		return nil
	}
	return &sniServing{chains: &httpsChains{chains: []httpChain{{routeName: cfg.routeName, scoped: cfg.scoped}}}, handlers: []*listenerHandler{h}}
}

// routed reports whether every chain has its route table.
func (s *sniServing) routed() bool {
	for _, h := range s.handlers {
		if h.table.Load() == nil {
			return false
		}
	}
	return true
}

// terminatesTLS reports whether the listener's connections are TLS it terminates.
func (l *listenerConfig) terminatesTLS() bool {
	return l.tls != nil || l.sni != nil
}
