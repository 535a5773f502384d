package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpServer serves a TCP proxy listener: each accepted connection is relayed, bytes as they
// are, to an endpoint of the cluster its TcpProxy names, as Envoy's tcp_proxy filter does.
type tcpServer struct {
	ln  net.Listener
	fwd *forwarder
	log *slog.Logger
	// route is what new connections use; an update swaps it, and connections already relayed
	// keep the clusters they were given.
	route atomic.Pointer[tcpRoute]
	// handoff, on a listener that chooses chains (chains_inspected.go), takes the
	// connections whose chain terminates TLS to the listener's HTTPS servers
	// (chains_handoff.go).
	handoff *handoffListener

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closing  bool
	finished chan struct{} // closed when draining and the last connection ends
}

// tcpRoute is a listener's filter chains linked to the clusters known when it was linked.
type tcpRoute struct {
	lc     *listenerConfig
	chains []tcpChainRoute // parallel to lc.tcp.chains
	// listener is the listener's counters, which a TLS passthrough listener's connections
	// without a matching chain or past the inspector's timeout add to.
	listener *listenerStats
	// https is the terminating chains' handlers, linked with lc, so the chain chosen and the
	// handler given it always come from one configuration; nil when lc has no such chains.
	https *sniServing
}

// tcpChainRoute is one filter chain's TcpProxy linked to its clusters.
type tcpChainRoute struct {
	cfg      *tcpProxyConfig // nil for a chain that terminates TLS: http is its index
	http     int
	rbac     *rbacChain
	clusters []*cluster  // parallel to cfg.targets; nil: a cluster CDS has not sent
	stats    []*tcpStats // parallel to cfg.targets
}

func newTCPServer(ln net.Listener, fwd *forwarder, log *slog.Logger) *tcpServer {
	return &tcpServer{ln: ln, fwd: fwd, log: log, conns: map[net.Conn]struct{}{}}
}

// link resolves the listener's clusters against today's. Unlike routes, a TCP proxy does not
// keep a cluster CDS removed: Envoy looks the cluster up per connection, and a connection to a
// cluster that is gone is closed.
func (s *tcpServer) link(cfg *listenerConfig, https *sniServing, clusters map[string]*cluster, reg *statsRegistry) {
	r := &tcpRoute{lc: cfg, listener: reg.listener(cfg.name), https: https}
	if cfg.tcp == nil {
		s.route.Store(r) // an HTTPS listener of one chain: every connection is handed over
		return
	}
	for _, ch := range cfg.tcp.chains {
		cr := tcpChainRoute{cfg: ch.proxy, rbac: ch.rbac, http: ch.http}
		if ch.proxy == nil {
			r.chains = append(r.chains, cr)
			continue
		}
		for _, t := range ch.proxy.targets {
			cr.clusters = append(cr.clusters, clusters[t.cluster])
			cr.stats = append(cr.stats, reg.tcp(cfg.name, t.cluster))
		}
		r.chains = append(r.chains, cr)
	}
	s.route.Store(r)
}

// linkTCP gives a TCP proxy listener its clusters, making before breaking as relinkTables does
// for routes: an update that names a cluster not received yet, or without endpoints, waits up
// to warmTimeout while the previous configuration keeps taking connections, so the order the
// server sends types in fails no connection.
func (p *Proxy) linkTCP(b *boundListener, now time.Time, warming map[string]time.Time) {
	cfg := b.cfg
	if old := b.tcp.route.Load(); old != nil && !bytes.Equal(old.lc.raw, cfg.raw) && !p.warmClusters(cfg.tcp.clusters()) {
		key := "tcp listener " + cfg.name // route configuration names share the map
		since, waiting := p.warming[key]
		if !waiting {
			since = now
		}
		if now.Sub(since) < p.warmTimeout {
			warming[key] = since
			b.tcp.link(old.lc, old.https, p.clusters, &p.fwd.stats)
			return
		}
		p.log.Warn("tcp proxy listener names clusters without endpoints; applying it anyway",
			"listener", cfg.name, "waited", now.Sub(since))
	}
	b.tcp.link(cfg, b.sni.Load(), p.clusters, &p.fwd.stats)
}

// pick chooses a target at random by weight, as Envoy's weighted_clusters does.
func (r *tcpChainRoute) pick() int {
	if len(r.clusters) == 1 {
		return 0
	}
	return pickWeighted(r.cfg.targets, r.cfg.weightSum, func(t *tcpTarget) uint64 { return t.weight })
}

// serve accepts until the socket is closed.
func (s *tcpServer) serve(name string) {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does, not spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("tcp listener accept failed", "listener", name, "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			continue
		}
		go func() {
			defer s.untrack(c)
			s.handle(c)
		}()
	}
}

func (s *tcpServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *tcpServer) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.closing && len(s.conns) == 0 && s.finished != nil {
		close(s.finished)
		s.finished = nil
	}
}

// drain lets the connections run until they end or ctx is done, then closes the rest (which
// ends their upstream connections too). The socket is already closed.
func (s *tcpServer) drain(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	done := make(chan struct{})
	if len(s.conns) == 0 {
		close(done)
	} else {
		s.finished = done
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}
}

// tlsHandshakeTimeout bounds a downstream TLS handshake, so a silent client holds no upstream.
const tlsHandshakeTimeout = time.Minute

// handle relays one downstream connection; on every failure the downstream is closed, the
// only answer TCP has.
func (s *tcpServer) handle(down net.Conn) {
	handedOff := false
	defer func() {
		if !handedOff {
			down.Close()
		}
	}()
	r := s.route.Load()
	if r == nil {
		return
	}
	if tc, ok := down.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return
		}
	}
	if r.lc.tcp == nil {
		if s.handoff != nil {
			handedOff = true
			s.handoff.handoff(&chainConn{Conn: down}) // its handshake chooses its TLS (https_serve.go)
		}
		return
	}
	var sni string
	var peeked []byte
	chain := 0
	if insp := r.lc.tcp.inspector; insp != nil {
		var ok bool
		if sni, peeked, ok = insp.inspect(down, r.listener); !ok {
			return
		}
		if chain = r.lc.tcp.match(sni); chain < 0 {
			r.listener.tcpNoFilterChainMatch.Add(1) // Envoy's no_filter_chain_match
			return
		}
	}
	cr := &r.chains[chain]
	if cr.cfg == nil {
		// A chain that terminates TLS: its handshake reads the ClientHello again, with the
		// chain's certificate, and its requests are served with its routes (https_serve.go).
		if r.https == nil || s.handoff == nil {
			return
		}
		cc := &chainConn{Conn: &replayConn{Conn: down, pending: peeked}, chosen: r.https.chains.chains[cr.http].tls}
		cc.handler.Store(r.https.handlers[cr.http])
		handedOff = true
		s.handoff.handoff(cc)
		return
	}
	if rb := cr.rbac; rb != nil {
		admitted := false
		if r.lc.tcp.inspector != nil {
			admitted = rb.admitPassthrough(down, sni, &s.fwd.stats)
		} else {
			admitted = rb.admitConn(down, &s.fwd.stats)
		}
		if !admitted {
			return // closed before any upstream is chosen or dialled
		}
	}
	i := cr.pick()
	st, c := cr.stats[i], cr.clusters[i]
	st.total.Add(1)
	if c == nil {
		st.noRoute.Add(1) // Envoy's downstream_cx_no_route
		return
	}
	if !c.admitConn() {
		return
	}
	defer c.releaseConn()
	up, ep := connectUpstream(c, cr.cfg.maxAttempts, st)
	if up == nil {
		return
	}
	defer ep.active.Add(-1)
	st.active.Add(1)
	defer st.active.Add(-1)
	if len(peeked) > 0 {
		// What the inspector read goes first, unchanged: the backend terminates the TLS.
		if _, err := up.Write(peeked); err != nil {
			up.Close()
			return
		}
		st.rxBytes.Add(uint64(len(peeked)))
	}
	relay(down, up, cr.cfg.idle, st)
}

// admitConn applies max_connections to a new upstream connection. HTTP/1 requests of a
// cluster with a connection limit hold slots of the same semaphore, so the cluster's limit is
// one limit, as Envoy's is; otherwise TCP connections are counted on their own.
func (c *cluster) admitConn() bool {
	if c.connSem != nil {
		select {
		case c.connSem <- struct{}{}:
			return true
		default:
			c.stats.cxOverflow.Add(1)
			return false
		}
	}
	if c.tcpConns.Add(1) > c.cfg.limits.maxConnections {
		c.tcpConns.Add(-1)
		c.stats.cxOverflow.Add(1)
		return false
	}
	return true
}

func (c *cluster) releaseConn() {
	if c.connSem != nil {
		<-c.connSem
		return
	}
	c.tcpConns.Add(-1)
}

// connectUpstream dials endpoints chosen by the cluster's load balancer, another one per
// attempt while there are others, and reports each outcome to outlier detection as Envoy's
// tcp_proxy does (a connect failure counts as a gateway error, a connection as a success). On
// success the endpoint is counted active; the caller releases it.
func connectUpstream(c *cluster, attempts int, st *tcpStats) (net.Conn, *endpoint) {
	var triedBuf [4]*endpoint
	tried := triedBuf[:0]
	for range attempts {
		ep := c.pickFor(0, false, tried)
		if ep == nil {
			return nil, nil // no healthy upstream
		}
		tried = append(tried, ep)
		ep.active.Add(1)
		up, err := dialCluster(c.cfg, ep.addr)
		if err == nil {
			c.report(ep, 200)
			return up, ep
		}
		ep.active.Add(-1)
		st.connectFail.Add(1)
		c.report(ep, 0)
	}
	return nil, nil
}

// dialCluster opens one upstream connection within the cluster's connect_timeout, TLS
// handshake included when the cluster has an upstream TLS transport socket.
func dialCluster(cfg *clusterConfig, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.connectTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: noKeepAlive}
	if cfg.keepalive != nil {
		d.KeepAliveConfig = *cfg.keepalive
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || cfg.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, cfg.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}
