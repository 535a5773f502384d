package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport is an upstream connection pool shared by every listener and cluster of one
// upstream protocol. Pooled keep-alive connections are most of a proxy's throughput, so idle
// limits are generous. h2c selects prior-knowledge HTTP/2 over plain TCP instead of HTTP/1.1.
func newTransport(timeouts *atomic.Pointer[map[string]time.Duration], h2c bool) *http.Transport {
	d := &dialer{timeouts: timeouts}
	var protocols http.Protocols
	protocols.SetHTTP1(!h2c)
	protocols.SetUnencryptedHTTP2(h2c)
	return &http.Transport{
		Protocols:             &protocols,
		Proxy:                 nil, // never send mesh traffic to an environment proxy
		DialContext:           d.dial,
		MaxIdleConns:          0, // no global cap; the per-host cap is what matters
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// A proxy forwards bytes as they are: no Accept-Encoding added, nothing decompressed.
		DisableCompression: true,
	}
}

// noKeepAlive leaves TCP keep-alive off, on upstream and downstream sockets alike: Envoy sets
// it only where a cluster's upstream_connection_options.tcp_keepalive (Istio's
// connectionPool.tcp.tcpKeepalive) asks, while Go's dialer and listener turn it on by
// default. A cluster's tcp_keepalive still enables it (KeepAliveConfig.Enable wins).
const noKeepAlive = -1

// dialer applies each cluster's connect_timeout with one shared Transport: the timeout is
// looked up by endpoint address at dial time, which is off the hot path (connections pool).
type dialer struct {
	timeouts *atomic.Pointer[map[string]time.Duration]
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := defaultConnectTimeout
	if m := d.timeouts.Load(); m != nil {
		if t, ok := (*m)[addr]; ok {
			timeout = t
		}
	}
	return dialConnect(ctx, &net.Dialer{Timeout: timeout, KeepAlive: noKeepAlive}, network, addr)
}

// dialConnect dials with nd, whose Timeout is the cluster's connect_timeout, reporting a
// dial that outlived it as connectTimeoutError does.
func dialConnect(ctx context.Context, nd *net.Dialer, network, addr string) (net.Conn, error) {
	connectBy := time.Now().Add(nd.Timeout)
	c, err := nd.DialContext(ctx, network, addr)
	return c, connectTimeoutError(ctx, err, connectBy)
}

// errConnectTimeout is why a dial failed when the cluster's connect_timeout ran out.
var errConnectTimeout = errors.New("connection timeout")

// connectTimeoutError reports a dial that outlived connect_timeout as a connection failure that
// is no timeout (net.Error's Timeout is false): for Envoy it is a connect failure, answered 503
// and retried on connect-failure, while the forwarder takes a timeout on the lean path for the
// route's own (504, never retried). A dial ended by ctx (the route's deadline, a client gone)
// keeps its error. connectBy is when connect_timeout ran out: the dialer stops at it or at
// ctx's deadline, whichever is first, and a dial may return before ctx's own timer has marked
// it done, so the deadlines are compared rather than ctx.Err alone.
func connectTimeoutError(ctx context.Context, err error, connectBy time.Time) error {
	var op *net.OpError
	if err == nil || ctx.Err() != nil || !errors.As(err, &op) || !op.Timeout() {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !dl.After(connectBy) {
		return err
	}
	failed := *op
	failed.Err = errConnectTimeout
	return &failed
}

// copyBufSize matches io.Copy's buffer; buffers are pooled because a fresh 32 KiB buffer per
// request was a measured share of a plain Go proxy's cost.
const copyBufSize = 32 << 10

var copyBufPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufSize)
	return &b
}}

// clusterPool is a cluster's own connections, for options the shared pools cannot carry per
// cluster: upstream TLS, TCP keep-alive, idle timeout, max requests per connection.
type clusterPool struct {
	http1, http2 *http.Transport
}

func newClusterPool(cfg *clusterConfig) *clusterPool {
	nd := &net.Dialer{Timeout: cfg.connectTimeout, KeepAlive: noKeepAlive}
	if cfg.keepalive != nil {
		nd.KeepAliveConfig = *cfg.keepalive
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialConnect(ctx, nd, network, addr)
		if err != nil {
			return nil, err
		}
		return &countedConn{Conn: c}, nil
	}
	mk := func(h2 bool) *http.Transport {
		var protocols http.Protocols
		switch {
		case cfg.tls != nil && h2:
			protocols.SetHTTP2(true)
		case h2:
			protocols.SetUnencryptedHTTP2(true)
		default:
			protocols.SetHTTP1(true)
		}
		t := &http.Transport{
			Protocols:           &protocols,
			DialContext:         dial,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			DisableKeepAlives:   cfg.maxPerConn == 1,
		}
		if cfg.idleTimeout > 0 {
			t.IdleConnTimeout = cfg.idleTimeout
		}
		if cfg.tls != nil {
			t.TLSClientConfig = cfg.tls.Clone()
			t.TLSHandshakeTimeout = cfg.connectTimeout
		}
		return t
	}
	return &clusterPool{http1: mk(false), http2: mk(true)}
}

func (p *clusterPool) closeIdle() {
	p.http1.CloseIdleConnections()
	p.http2.CloseIdleConnections()
}

// countedConn counts the requests sent on one upstream connection, for
// max_requests_per_connection.
type countedConn struct {
	net.Conn
	uses atomic.Uint32
}

// limitRequestsPerConn marks the request that reaches the connection's limit as its last:
// GotConn runs on the round-tripping goroutine before the request is written, so setting
// Close there makes the transport send "Connection: close" and retire the connection.
func limitRequestsPerConn(r *http.Request, limit uint32) *http.Request {
	out := new(http.Request)
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		c := info.Conn
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		if cc, ok := c.(*countedConn); ok && cc.uses.Add(1) >= limit {
			out.Close = true
		}
	}}
	*out = *r.WithContext(httptrace.WithClientTrace(r.Context(), trace))
	return out
}
