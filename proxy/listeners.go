package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainTimeout bounds how long a removed or moved listener waits for its requests in flight.
const drainTimeout = 5 * time.Second

// boundListener is a listener with a socket: the lean server serving HTTP/1.x, and an
// http.Server for the connections that open with the HTTP/2 preface (h2c).
type boundListener struct {
	cfg  *listenerConfig
	addr string // the bound address
	ln   net.Listener
	// httpLn is what h1 and srv accept from: ln, or the TLS over handoff.
	httpLn net.Listener
	h1     *h1Server
	srv    *http.Server
	h      *listenerHandler
	state  chan struct{} // closed when both servers have returned
	// tls is the configuration each handshake of a TLS listener uses: an update that changes
	// certificates keeps the socket and its connections.
	tls atomic.Pointer[tls.Config]
	// tcp, for a TCP proxy listener, serves the socket instead of h1 and srv (both nil).
	tcp *tcpServer
	// sni, for an HTTPS listener whose chains are chosen by SNI, is its chains and their
	// handlers (https_serve.go); nil for a listener of one chain, served by h.
	sni atomic.Pointer[sniServing]
	// handoff, on a listener that chooses chains per connection (chains_inspected.go), is
	// where tcp hands the connections whose chain terminates TLS to h1 and srv
	// (chains_handoff.go); all three serve it, whatever kinds of chains it has now, so an
	// update may change them on the same socket.
	handoff *handoffListener
}

func (p *Proxy) bind(cfg *listenerConfig, h *listenerHandler) (*boundListener, error) {
	addr := cfg.addr
	if p.opts.Rebind != nil {
		addr = p.opts.Rebind(addr)
	}
	ln, err := (&net.ListenConfig{KeepAlive: noKeepAlive}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &boundListener{cfg: cfg, h: h, state: make(chan struct{})}
	var handler http.Handler = h
	switch {
	case cfg.choosesChains():
		// The accept loop chooses each connection's chain; the chains that terminate TLS serve
		// what it hands over (https_serve.go): the lean server reads HTTP/1.1 from the TLS
		// connection, and h2 (ALPN) reaches the http.Server as prior-knowledge HTTP/2 on it.
		b.tls.Store(cfg.tls)
		b.addr, b.ln, b.tcp = ln.Addr().String(), ln, newTCPServer(ln, p.fwd, p.log)
		b.handoff = newHandoffListener(ln.Addr())
		b.tcp.handoff = b.handoff
		ln = tls.NewListener(b.handoff, &tls.Config{GetConfigForClient: b.configForClient})
		handler = tlsRequests{chainDispatch{b}}
	case cfg.tcp != nil && cfg.tls != nil:
		b.tls.Store(cfg.tls)
		ln = tls.NewListener(ln, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return b.tls.Load(), nil
		}})
	}
	if cfg.tcp != nil && !cfg.choosesChains() {
		b.addr, b.ln, b.tcp = ln.Addr().String(), ln, newTCPServer(ln, p.fwd, p.log)
		return b, nil
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	// Prior-knowledge h2c, what Envoy's AUTO codec accepts on plaintext: net/http serves it
	// natively, so golang.org/x/net/http2/h2c (deprecated) is not needed.
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		IdleTimeout:       5 * time.Minute,
		ConnContext:       withConnInfo,
		// "OPTIONS *" is routed like any request, not answered by net/http.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     log.New(slogWriter{p.log}, "", 0),
	}
	b.h1, b.srv = newH1Server(handler, ln.Addr(), p.log), srv
	if b.handoff != nil {
		b.httpLn = ln
		return b, nil
	}
	b.addr, b.ln, b.httpLn = ln.Addr().String(), ln, ln
	return b, nil
}

func (b *boundListener) start(log *slog.Logger) {
	var wg sync.WaitGroup
	if b.tcp != nil {
		name := b.cfg.name // b.cfg is replaced by updates; read it here, on their goroutine
		wg.Go(func() { b.tcp.serve(name) })
	}
	if b.h1 != nil {
		wg.Go(func() {
			if err := b.srv.Serve(b.h1.h2); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("h2c server stopped", "listener", b.cfg.name, "addr", b.addr, "err", err)
			}
		})
		wg.Go(func() {
			if err := b.h1.serve(b.httpLn); err != nil && !errors.Is(err, net.ErrClosed) {
				log.Error("listener stopped", "listener", b.cfg.name, "addr", b.addr, "err", err)
			}
		})
	}
	go func() {
		wg.Wait()
		close(b.state)
	}()
}

// drain stops accepting, lets requests in flight finish (up to timeout), then closes. A TCP
// proxy listener's connections are its requests: each runs until it ends or timeout passes.
func (b *boundListener) drain(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b.ln.Close()
	var wg sync.WaitGroup
	if b.tcp != nil {
		wg.Go(func() { b.tcp.drain(ctx) })
	}
	if b.h1 != nil {
		b.httpLn.Close()
		wg.Go(func() { b.h1.shutdown(ctx) })
		wg.Go(func() {
			if err := b.srv.Shutdown(ctx); err != nil {
				b.srv.Close()
			}
		})
	}
	wg.Wait()
}

// closeUnstarted releases a socket bound by a listener update that was then refused.
func (b *boundListener) closeUnstarted() {
	b.ln.Close()
}

// slogWriter sends http.Server's own error log (bad requests, TLS probes) to debug level:
// those are the clients' problems and must not flood the proxy's log.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(b []byte) (int, error) {
	w.log.Debug(string(b))
	return len(b), nil
}
