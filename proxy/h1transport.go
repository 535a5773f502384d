package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// h1Transport is a lean HTTP/1.1 client for the shared upstream pool. It does what
// http.Transport does for the proxy's common case — a keep-alive connection per request in
// flight, the request written with one write, a plain response head parsed in place
// (h1parse.go; others by http.ReadResponse) — without the two goroutines and channel
// hand-offs http.Transport spends on every request. A request it does not handle (a body of
// unknown length, trailers, Expect) goes to fallback.
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback http.RoundTripper

	mu   sync.Mutex
	idle map[string][]*h1Conn
}

// h1IdleTimeout is how long an idle upstream connection is kept, as http.Transport's
// IdleConnTimeout in newTransport.
const (
	h1IdleTimeout   = 90 * time.Second
	h1MaxIdlePerKey = 1024
)

type h1Conn struct {
	t      *h1Transport
	addr   string
	conn   net.Conn
	io     io.ReadWriter // conn, or its raw socket reads and writes (sockio.go)
	dl     bool          // a deadline is set on conn
	br     *bufio.Reader // reads through upstreamReader (h1sendwait.go)
	bw     *bufio.Writer // only for requests with a body larger than h1InlineBody
	idleAt time.Duration // monoNow when it was put back

	// The request is built in wbuf and, on a TCP connection, sent by the first read of its
	// answer (see h1sendwait.go): out is what is still to send, sent whether any of it was.
	wbuf []byte
	out  []byte
	sent bool
	sock *sockIO // nil when conn is not a socket of its own

	// hdr is the header map of every response the connection's own parser reads: a map per
	// response was the largest cost of parsing one. The forwarder reads a response's header
	// only before its body, and the connection is reused only after the body's end, so the
	// next response never clears a map still in use. Value slices are per response.
	hdr http.Header

	// resp is the response of leanExchange.owned exchanges (see h1Response).
	resp  h1Response
	lines lineEnds // of the response head being read
}

// errClientGone fails an upstream exchange whose client closed its connection.
var errClientGone = errors.New("the client closed its connection")

// aLongTimeAgo unblocks every pending read and write on a connection.
var aLongTimeAgo = time.Unix(1, 0)

func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.conn.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// get returns an idle connection to addr, or dials one; reused tells which. now is monoNow,
// or 0 to have get read it. A dial ends by deadline (when set) as well as by the cluster's
// connect_timeout: the route's timeout bounds the whole attempt, connecting included, as
// Envoy's does.
func (t *h1Transport) get(ctx context.Context, addr string, now time.Duration, deadline time.Time) (c *h1Conn, reused bool, err error) {
	if now == 0 {
		now = monoNow()
	}
	t.mu.Lock()
	for cs := t.idle[addr]; len(cs) > 0; cs = t.idle[addr] {
		c = cs[len(cs)-1]
		cs[len(cs)-1] = nil
		t.idle[addr] = cs[:len(cs)-1]
		if now-c.idleAt < h1IdleTimeout {
			t.mu.Unlock()
			return c, true, nil
		}
		c.conn.Close()
	}
	t.mu.Unlock()
	if !deadline.IsZero() {
		// A context per dial, not per request: connections are pooled.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	conn, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return newH1Conn(t, addr, conn), false, nil
}

// put returns c to the idle pool; now is monoNow, or 0 to have put read it.
func (t *h1Transport) put(c *h1Conn, now time.Duration) {
	if now == 0 {
		now = monoNow()
	}
	c.idleAt = now
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*h1Conn{}
	}
	if cs := t.idle[c.addr]; len(cs) < h1MaxIdlePerKey {
		t.idle[c.addr] = append(cs, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.conn.Close()
}

// handles reports whether the lean path can send req.
func (t *h1Transport) handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Trailer != nil || req.Header["Expect"] != nil {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.ContentLength > 0
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	return t.roundTrip(req, leanExchange{})
}

// leanExchange is what the forwarder's own calls ask of roundTrip beyond RoundTrip's contract.
type leanExchange struct {
	// deadline, when set, bounds the exchange, body included, as a deadline on the connection:
	// the route timeout without a context.
	deadline time.Time
	// relay asks for the response head to be kept for relaying as it came (h1relay.go) when
	// it can be: the response's Header then holds only the fields retries read.
	relay bool
	// owned lets the response live in the connection rather than in an allocation of its
	// own: the caller reads nothing of it after closing its body, which is when the
	// connection goes back to the pool (not at the body's end, as for RoundTrip's callers,
	// to whom a response stays valid after Close).
	owned bool
	// now is monoNow read by the caller just before, for the idle pool's ages.
	now time.Duration
}

// roundTrip sends req, which handles accepted, as lx asks.
func (t *h1Transport) roundTrip(req *http.Request, lx leanExchange) (*http.Response, error) {
	ctx := req.Context()
	down := downstreamOf(ctx)
	deadline := lx.deadline
	for try := 0; ; try++ {
		c, reused, err := t.get(ctx, req.URL.Host, lx.now, deadline)
		if err != nil {
			return nil, err
		}
		if down != nil && !down.attach(c.conn) {
			c.conn.Close()
			return nil, errClientGone
		}
		if !deadline.IsZero() || c.dl {
			c.conn.SetDeadline(deadline)
			c.dl = !deadline.IsZero()
		}
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { c.conn.SetDeadline(aLongTimeAgo) })
		}
		resp, x, wrote, err := c.roundTrip(req, lx)
		if err == nil {
			var b *h1Body
			if x != nil {
				b = &x.body
			} else {
				b = new(h1Body)
			}
			*b = h1Body{ReadCloser: resp.Body, c: c, stop: stop, down: down, keep: !resp.Close && !req.Close, eof: resp.Body == http.NoBody,
				owned: x != nil && lx.owned}
			if x != nil && x.relay.ok {
				b.relay = &x.relay
			}
			resp.Body = b
			return resp, nil
		}
		if stop != nil {
			stop()
		}
		if down != nil {
			down.detach(c.conn)
			if down.isGone() {
				c.conn.Close()
				return nil, errClientGone
			}
		}
		c.conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A reused connection the upstream had closed while idle fails before any answer:
		// send again on a fresh one if the request can be replayed, as http.Transport does.
		if reused && try < 2 && !isTimeout(err) && (!wrote || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) && rewind(req) {
			continue
		}
		return nil, err
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && (op.Op == "read" || op.Op == "write")
}

// rewind prepares req's body to be sent again; false when it cannot be.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.GetBody == nil {
		return false
	}
	b, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = b
	return true
}

// appendRequestHead appends req's request line, Host and header fields to b: all of the head
// but its Content-Length, Connection and closing blank line, which the caller decides.
func appendRequestHead(b []byte, req *http.Request) []byte {
	b = append(b, req.Method...)
	b = append(b, ' ')
	if p := req.URL.EscapedPath(); p != "" {
		b = append(b, p...)
	} else {
		b = append(b, '/')
	}
	if q := req.URL.RawQuery; q != "" {
		b = append(b, '?')
		b = append(b, q...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for k, vv := range req.Header {
		if k == "Host" || k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range vv {
			if v == "" && k == "User-Agent" {
				continue // the proxy's way of sending no User-Agent
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// roundTrip writes req and reads the response head; wrote reports whether any of the request
// reached the connection.
func (c *h1Conn) roundTrip(req *http.Request, lx leanExchange) (*http.Response, *h1Response, bool, error) {
	b := appendRequestHead(c.wbuf[:0], req)
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	} else if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	if req.Close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if hasBody && req.ContentLength > h1InlineBody {
		// A large body streams through the writer after the head; the answer is then read
		// the ordinary way.
		c.wbuf = b
		bw := c.bw
		bw.Write(b)
		n, err := io.CopyN(bw, req.Body, req.ContentLength)
		req.Body.Close()
		if err != nil {
			return nil, nil, n > 0, err
		}
		if err := bw.Flush(); err != nil {
			return nil, nil, false, err
		}
		c.sent = true
	} else {
		if hasBody {
			// A small body goes with the head, in the same write.
			n := len(b)
			b = slices.Grow(b, int(req.ContentLength))[:n+int(req.ContentLength)]
			_, err := io.ReadFull(req.Body, b[n:])
			req.Body.Close()
			if err != nil {
				c.wbuf = b[:0]
				return nil, nil, false, err
			}
		}
		c.wbuf = b
		if err := c.send(b); err != nil {
			return nil, nil, c.sent, err
		}
	}
	for {
		resp, x, err := c.readResponse(req, lx)
		if err != nil {
			return nil, nil, c.sent, err
		}
		// 1xx informational answers (other than 101) precede the real one.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		return resp, x, true, nil
	}
}

// h1Response is what the lean transport allocates per response read by its own parser (or
// keeps in the connection, for leanExchange.owned): the response, its body and the first value
// slices of its header, in one object. Its Header is
// the connection's map (see h1Conn.hdr): valid until the body has been read or closed.
type h1Response struct {
	resp  http.Response
	body  h1Body
	lb    h1LengthBody
	relay relayedHead
	vals  [8]string
}

// readResponse reads the response head: with the transport's own parser when the whole head
// is in the read buffer and is plain (see h1parse.go; x is then non-nil), else with net/http's.
func (c *h1Conn) readResponse(req *http.Request, lx leanExchange) (resp *http.Response, x *h1Response, err error) {
	br := c.br
	scanned := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		end, st := scanHead(buf, scanned, &c.lines)
		if st == headComplete {
			if x := c.parseBuffered(buf[:end], req, lx); x != nil {
				return &x.resp, x, nil
			}
		}
		if st != headIncomplete || len(buf) == br.Size() {
			break
		}
		scanned = end
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if len(buf) == 0 {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF // as http.ReadResponse reports a closed connection
				}
				return nil, nil, err
			}
			break // net/http's parser reports what the buffered bytes amount to
		}
	}
	resp, err = http.ReadResponse(br, req)
	return resp, nil, err
}

// parseBuffered parses the complete response head in buf; nil leaves buf unread for
// net/http's parser. With lx.relay, a head without hop-by-hop fields is kept as it came
// (x.relay) and its Header holds only the fields retries read; with lx.owned, x is the
// connection's own.
func (c *h1Conn) parseBuffered(buf []byte, req *http.Request, lx leanExchange) *h1Response {
	var x *h1Response
	if lx.owned {
		x = &c.resp
		*x = h1Response{}
	} else {
		x = new(h1Response)
	}
	h := c.hdr
	if len(h) > 0 {
		clear(h)
	}
	vals := x.vals[:0]
	var head h1ResponseHead
	s := string(buf)
	if lx.relay {
		head.relay = &x.relay
	}
	if !parseResponseHead(s, &c.lines, req.Method, h, &vals, &head) {
		return nil
	}
	c.br.Discard(len(buf))
	x.resp = http.Response{Status: head.statusText, StatusCode: head.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: head.minor,
		Header: h, ContentLength: head.contentLength, Close: head.close, Request: req, Body: http.NoBody}
	if head.minor == 0 {
		x.resp.Proto = "HTTP/1.0"
	}
	if head.contentLength > 0 {
		x.lb.reset(c.br, head.contentLength)
		x.resp.Body = &x.lb
	}
	return x
}

// h1Body returns the connection to the pool once the response body has been read to its end,
// and closes it when the body is abandoned early.
type h1Body struct {
	io.ReadCloser
	c    *h1Conn
	down *downstream
	stop func() bool
	// relay, when set, is the response head as the upstream sent it, for the server to relay
	// without a header map (h1relay.go).
	relay *relayedHead
	keep  bool
	// owned: the response is the connection's (leanExchange.owned), so the connection goes
	// back to the pool at Close, not at the body's end.
	owned bool
	// closedAt, set by the caller before Close when it has just read monoNow, spares put a
	// clock read.
	closedAt time.Duration
	eof      bool
	done     bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
		if !b.owned {
			b.release()
		}
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.release()
	}
	return nil
}

func (b *h1Body) release() {
	b.done = true
	if b.down != nil {
		b.down.detach(b.c.conn)
	}
	stopped := b.stop == nil || b.stop()
	if b.eof && b.keep && stopped && b.c.br.Buffered() == 0 {
		// A deadline left on an idle connection is harmless (nothing reads it while idle)
		// and the next request sets its own, so it is not cleared here.
		b.c.t.put(b.c, b.closedAt)
		return
	}
	b.c.conn.Close()
}
