package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// h1Server serves HTTP/1.x on a listener's socket itself and hands every connection that opens
// with the HTTP/2 preface to the listener's http.Server (h2c). Plain request heads are parsed
// in place into a request reused per connection (h1parse.go), others by http.ReadRequest.
// What it saves is net/http's per-request work that a proxy does not need: a goroutine and a
// read per request to watch for the client going away, a textproto reader, header map,
// request, context and response object per request, and a buffered writer per connection
// that is flushed twice.
type h1Server struct {
	handler http.Handler
	h2      *handoffListener // connections for the http.Server
	log     *slog.Logger

	closing atomic.Bool

	// Idle connections are closed by a sweep every sweepEvery rather than by a read deadline
	// set per request: a deadline is a runtime timer update, and a request paid two (set,
	// then clear). Paired runs under wrk -c32: CPU per request 21.3 -> 20.5 us.
	idleTimeout time.Duration
	sweepEvery  time.Duration
	clock       atomic.Int64 // unix nanoseconds, refreshed by sweep
	sweeper     sync.Once

	mu       sync.Mutex
	conns    map[*h1ServerConn]struct{}
	finished chan struct{} // closed when the last connection is gone after closing
}

// Timeouts of the lean server, as the http.Server in bind sets them.
const (
	h1ReadHeaderTimeout = time.Minute
	h1ServerIdleTimeout = 5 * time.Minute
)

func newH1Server(h http.Handler, addr net.Addr, log *slog.Logger) *h1Server {
	s := &h1Server{handler: h, h2: newHandoffListener(addr), log: log, conns: map[*h1ServerConn]struct{}{},
		idleTimeout: h1ServerIdleTimeout, sweepEvery: watchAfter / 2}
	s.clock.Store(time.Now().UnixNano())
	return s
}

// sweep closes connections idle for idleTimeout (to within sweepEvery) with a deadline in the
// past, which ends their goroutines, and starts watching requests that have waited
// watchAfter (clientwatch.go), until the server closes.
func (s *h1Server) sweep() {
	t := time.NewTicker(s.sweepEvery)
	defer t.Stop()
	for range t.C {
		if s.closing.Load() {
			return
		}
		now := time.Now().UnixNano()
		s.clock.Store(now)
		s.mu.Lock()
		for sc := range s.conns {
			if since := sc.idleSince.Load(); since != 0 && now-since >= int64(s.idleTimeout) {
				sc.conn.SetReadDeadline(aLongTimeAgo)
			}
			sc.watch.due(now)
		}
		s.mu.Unlock()
	}
}

// serve accepts until ln is closed.
func (s *h1Server) serve(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.sweeper.Do(func() { go s.sweep() })
		go s.serveConn(c)
	}
}

type h1ServerConn struct {
	s     *h1Server
	conn  net.Conn
	lim   *limitedConnReader
	br    *bufio.Reader
	bw    *bufio.Writer
	ctx   context.Context
	raddr string // the client's address, formatted once per connection
	down  *downstream
	watch *clientWatch
	w     h1Writer
	busy  atomic.Bool // serving a request, not waiting for one
	// fields is the number of header fields of the request just read.
	fields int
	// xfcc is the connection's x-forwarded-client-cert element (hcm_xfcc.go).
	xfcc atomic.Pointer[xfccElement]

	idleSince atomic.Int64 // h1Server.clock when it began waiting for a request; 0: not waiting
	deadline  bool         // a read deadline is set (the head took more than one read)

	// Reused from one request to the next: the handler is done with a request when it
	// returns (nothing the proxy starts keeps a request, its header map or its body).
	tmpl  http.Request // empty but for the context and the client's address
	req   http.Request
	head  h1RequestHead
	lines lineEnds
	body  h1LengthBody
}

func (s *h1Server) serveConn(c net.Conn) {
	var rw io.ReadWriter = c
	if s := newSockIO(c); s != nil {
		rw = s
	}
	lim := &limitedConnReader{conn: rw, left: maxHeaderBytes}
	br := bufio.NewReaderSize(lim, 4096)
	c.SetReadDeadline(time.Now().Add(h1ReadHeaderTimeout))
	if head, err := br.Peek(3); err != nil {
		c.Close()
		return
	} else if string(head) == "PRI" {
		// HTTP/2 with prior knowledge: net/http serves it, replaying what was read.
		c.SetReadDeadline(time.Time{})
		lim.left = unlimited
		s.h2.handoff(&prefixedConn{Conn: c, r: br})
		return
	}
	// The first head has h1ReadHeaderTimeout from the connection's start, cleared once read.
	sc := &h1ServerConn{s: s, conn: c, lim: lim, br: br, bw: bufio.NewWriterSize(rw, 4096), deadline: true}
	sc.raddr = c.RemoteAddr().String()
	ci := newConnInfo(sc.raddr)
	sc.down = &downstream{}
	ci.down = sc.down
	sc.ctx = context.WithValue(context.Background(), connInfoKey{}, ci)
	sc.watch = newClientWatch(sc)
	lim.watch = sc.watch
	sc.w.c = sc
	sc.w.header = make(http.Header, 8)
	sc.tmpl = *(&http.Request{RemoteAddr: sc.raddr}).WithContext(sc.ctx)
	sc.head.hdr = make(http.Header, 8)
	if !s.track(sc) {
		c.Close()
		return
	}
	defer func() {
		s.untrack(sc)
		c.Close()
	}()
	for {
		if !sc.serveOne() {
			return
		}
	}
}

// serveOne reads and answers one request; false ends the connection.
func (sc *h1ServerConn) serveOne() bool {
	c := sc.conn
	if sc.br.Buffered() == 0 {
		// The client has only just received the answer, so its next request is rarely here
		// yet and a read now would mostly fail and park. Serving the other connections
		// that are ready first makes that read find data more often: under wrk -c32 on one
		// core, read syscalls per request fell from 4.0 to 3.1 and CPU per request by ~10%.
		runtime.Gosched()
		sc.idleSince.Store(sc.s.clock.Load()) // idle from now, for sweep
	}
	_, err := sc.br.Peek(1)
	sc.idleSince.Store(0)
	if err != nil {
		return false // closed, idle timeout, or shutdown
	}
	sc.lim.left = maxHeaderBytes + int64(sc.br.Buffered())
	req, body, err := sc.readRequest()
	sc.lim.left = unlimited
	if err == nil && sc.fields > maxRequestHeaders {
		err = errHeaderTooLarge // hcm_codec.go: Envoy's max_headers_count
	}
	if err != nil {
		switch {
		case errors.Is(err, errHeaderTooLarge):
			sc.bw.WriteString("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
		case !errors.Is(err, io.EOF):
			sc.bw.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
		}
		sc.bw.Flush()
		return false
	}
	if sc.deadline {
		c.SetReadDeadline(time.Time{})
		sc.deadline = false
	}
	if !sc.s.busy(sc) {
		return false
	}
	if req.ProtoMajor != 1 || req.Method == http.MethodConnect {
		sc.bw.WriteString("HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\n\r\n")
		sc.bw.Flush()
		return false
	}
	if ex, ok := req.Header["Expect"]; ok {
		if len(ex) == 1 && strings.EqualFold(ex[0], "100-continue") && req.ProtoMinor == 1 {
			sc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			sc.bw.Flush()
			delete(req.Header, "Expect")
		} else {
			sc.bw.WriteString("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			sc.bw.Flush()
			return false
		}
	}
	keep := !req.Close && !(req.ProtoMinor == 0 && !headerHasToken(req.Header["Connection"], "keep-alive"))
	w := &sc.w
	w.reset(req, keep && !sc.s.closing.Load())
	watched := body == nil
	if watched {
		sc.watch.arm()
	}
	aborted := sc.runHandler(w, req)
	if watched && sc.watch.disarm() {
		c.SetReadDeadline(time.Time{}) // disarm stopped the watch's read with a past deadline
	}
	if w.hijacked || sc.down.isGone() {
		return false
	}
	if aborted {
		return false
	}
	if err := w.finish(); err != nil {
		return false
	}
	// What the handler left of the body must go before the next request is read.
	switch {
	case body == nil:
	case body == &sc.body:
		if !sc.body.drain(256 << 10) {
			w.keep = false
		}
	default:
		n, _ := io.CopyN(io.Discard, body, 256<<10)
		if n == 256<<10 {
			w.keep = false
		}
		body.Close()
	}
	return w.keep && sc.s.idle(sc)
}

// readRequest reads the next request head, with the connection's own parser when the whole
// head is in the read buffer and is plain (see h1parse.go), else with net/http's. body is the
// request body as read from the connection (nil: none), which the handler may replace.
func (sc *h1ServerConn) readRequest() (req *http.Request, body io.ReadCloser, err error) {
	br := sc.br
	scanned := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		end, st := scanHead(buf, scanned, &sc.lines)
		if st == headComplete {
			req, body, ok, err := sc.parseBuffered(buf[:end])
			if ok || err != nil {
				// All but the request line and the blank line. The head fits the read buffer,
				// far below maxHeaderBytes: larger ones go to net/http's parser below.
				sc.fields = sc.lines.total - 2
				return req, body, err
			}
		}
		if st != headIncomplete || len(buf) == br.Size() {
			break
		}
		scanned = end
		if !sc.deadline {
			// The head did not come in one read: from here it has h1ReadHeaderTimeout.
			sc.conn.SetReadDeadline(time.Now().Add(h1ReadHeaderTimeout))
			sc.deadline = true
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			break // net/http's parser reports what the buffered bytes and err amount to
		}
	}
	if !sc.deadline {
		sc.conn.SetReadDeadline(time.Now().Add(h1ReadHeaderTimeout))
		sc.deadline = true
	}
	// net/http drops a Content-Length beside Transfer-Encoding: chunked, which RFC 9112 §6.3
	// allows; Envoy's codec refuses the request (allow_chunked_length is off, as Istio leaves
	// it). The head net/http reads is kept to see whether it had one: what the buffer holds
	// now, and what the parser reads after it.
	buffered, _ := br.Peek(br.Buffered())
	raw := append([]byte(nil), buffered...)
	sc.lim.tee = &raw
	req, err = http.ReadRequest(br)
	sc.lim.tee = nil
	if err == nil {
		err = checkRequest(req)
	}
	if err == nil && len(req.TransferEncoding) > 0 && headHasField(raw, "Content-Length") {
		err = errChunkedLength
	}
	if err != nil {
		return nil, nil, err
	}
	sc.fields = fieldCount(req.Header)
	if headerSize(req) > maxHeaderBytes {
		return nil, nil, errHeaderTooLarge
	}
	req.RemoteAddr = sc.raddr
	req = req.WithContext(sc.ctx)
	if req.Body != nil && req.Body != http.NoBody {
		body = req.Body
	}
	return req, body, nil
}

// parseBuffered parses the complete head in buf into the connection's reused request; ok
// false leaves buf unread for net/http's parser.
func (sc *h1ServerConn) parseBuffered(buf []byte) (req *http.Request, body io.ReadCloser, ok bool, err error) {
	req = &sc.req
	*req = sc.tmpl // clears the previous request, keeps the connection's context
	ok, err = parseRequestHead(string(buf), &sc.lines, req, &sc.head)
	if !ok {
		return nil, nil, false, nil
	}
	sc.br.Discard(len(buf))
	if err != nil {
		return nil, nil, true, err
	}
	if req.ContentLength > 0 {
		sc.body.reset(sc.br, req.ContentLength)
		req.Body = &sc.body
		body = &sc.body
	}
	return req, body, true, nil
}

// runHandler calls the handler, reporting whether it aborted (panicked), as net/http does.
func (sc *h1ServerConn) runHandler(w *h1Writer, req *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			aborted = true
			if v != http.ErrAbortHandler {
				sc.s.log.Error("handler panic", "err", v)
			}
		}
	}()
	sc.s.handler.ServeHTTP(w, req)
	return false
}

// maxHeaderBytes is Envoy's default max_request_headers_kb, 60 KiB (hcm_codec.go): the most
// a request's header fields (names and values) may hold. Reading a head stops not far past
// it.
const (
	maxHeaderBytes = 60 << 10
	unlimited      = 1 << 62
)

var errHeaderTooLarge = errors.New("request header too large")

// errChunkedLength refuses a request with both Transfer-Encoding and Content-Length, as
// Envoy's HTTP/1 codec does.
var errChunkedLength = errors.New("both Content-Length and Transfer-Encoding are set")

// limitedConnReader bounds how much the request head may read, as http.Server does.
type limitedConnReader struct {
	conn  io.Reader // the connection, or its raw socket reads (sockio.go)
	left  int64
	watch *clientWatch // may hold a byte it read while watching
	// tee, while net/http's parser reads a head, gets a copy of what is read.
	tee *[]byte
}

func (l *limitedConnReader) Read(p []byte) (int, error) {
	if l.watch != nil {
		if n := l.watch.takeByte(p); n > 0 {
			l.left -= int64(n)
			if l.tee != nil {
				*l.tee = append(*l.tee, p[:n]...)
			}
			return n, nil
		}
	}
	if l.left <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.conn.Read(p)
	l.left -= int64(n)
	if l.tee != nil {
		*l.tee = append(*l.tee, p[:n]...)
	}
	return n, err
}

// checkRequest applies what http.Server checks after parsing and http.ReadRequest does not:
// an HTTP/1.1 request names its host (ReadRequest took the header out, and refused two),
// and header names and values are well formed.
func checkRequest(req *http.Request) error {
	if req.ProtoAtLeast(1, 1) && req.Host == "" {
		return errors.New("missing required Host header")
	}
	for k, vv := range req.Header {
		if !validFieldName(k) {
			return errors.New("invalid header name")
		}
		for _, v := range vv {
			if !validFieldValue(v) {
				return errors.New("invalid header value")
			}
		}
	}
	return nil
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func headerHasToken(vv []string, token string) bool {
	for _, v := range vv {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// track registers a new connection; false when the server is closing.
func (s *h1Server) track(sc *h1ServerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[sc] = struct{}{}
	return true
}

// busy marks sc as serving the request it has read; false when shutdown began while it was
// idle, and the request is dropped unanswered, as http.Server does. Busy and closing are
// atomics, stored before they are loaded on both sides, so either the connection sees closing
// or shutdown sees it busy: no lock per request.
func (s *h1Server) busy(sc *h1ServerConn) bool {
	sc.busy.Store(true)
	return !s.closing.Load()
}

// idle marks sc as waiting for its next request; false when the server is closing.
func (s *h1Server) idle(sc *h1ServerConn) bool {
	sc.busy.Store(false)
	return !s.closing.Load()
}

func (s *h1Server) untrack(sc *h1ServerConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, sc)
	if s.closing.Load() && len(s.conns) == 0 && s.finished != nil {
		close(s.finished)
		s.finished = nil
	}
}

// shutdown closes idle connections at once and lets busy ones finish their request, up to
// ctx; then it closes them too.
func (s *h1Server) shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing.Store(true)
	done := make(chan struct{})
	if len(s.conns) == 0 {
		close(done)
	} else {
		s.finished = done
	}
	for sc := range s.conns {
		if !sc.busy.Load() {
			sc.conn.SetReadDeadline(aLongTimeAgo)
		}
	}
	s.mu.Unlock()
	s.h2.Close()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for sc := range s.conns {
			sc.conn.Close()
		}
		s.mu.Unlock()
	}
}

// h1Writer is the http.ResponseWriter of one request; one per connection, reset per request.
// The head is written into the connection's buffer when the body starts (or the handler
// returns), so a small response leaves in one write.
type h1Writer struct {
	c   *h1ServerConn
	req *http.Request
	// server is the Server field the listener's connection manager sets (hcm_response.go);
	// nil writes none (a handler other than the proxy's).
	server   *serverHeader
	header   http.Header
	status   int
	wroteHdr bool
	chunked  bool
	noBody   bool
	keep     bool
	clen     int64 // declared Content-Length, -1 if none
	written  int64
	pending  []byte // body written before the head was sent, when its length is unknown
	// hijacked: the connection was handed to an upgrade's tunnel (upgrade.go), which has
	// answered and closed it; nothing more is written or read.
	hijacked bool
}

func (w *h1Writer) reset(req *http.Request, keep bool) {
	clear(w.header)
	w.req, w.status, w.wroteHdr, w.chunked, w.noBody, w.keep, w.clen, w.written, w.hijacked = req, 0, false, false, false, keep, -1, 0, false
	w.server = nil
	w.pending = w.pending[:0]
}

func (w *h1Writer) Header() http.Header { return w.header }

func (w *h1Writer) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return // informational answers are not relayed
	}
	w.status = code
	if cl := w.header["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.clen = n
		}
	}
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if w.clen >= 0 || w.noBody {
		w.writeHead()
	}
}

// pendingMax is how much body is held back to compute a Content-Length before switching to
// chunked encoding.
const pendingMax = 4096

func (w *h1Writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		return len(p), nil
	}
	if !w.wroteHdr {
		if len(w.pending)+len(p) <= pendingMax {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.chunked = w.req.ProtoMinor >= 1
		if !w.chunked {
			w.keep = false // HTTP/1.0 without a length: the body ends with the connection
		}
		w.writeHead()
		if len(w.pending) > 0 {
			if _, err := w.writeBody(w.pending); err != nil {
				return 0, err
			}
			w.pending = w.pending[:0]
		}
	}
	return w.writeBody(p)
}

func (w *h1Writer) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.chunked {
		if len(p) == 0 {
			return 0, nil
		}
		var b [20]byte
		bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			return 0, errClientWrite
		}
		return len(p), nil
	}
	n, err := bw.Write(p)
	if err != nil {
		return n, errClientWrite
	}
	return n, nil
}

// Flush sends what is buffered: the head (chunked when the length is unknown) and the body.
func (w *h1Writer) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wroteHdr {
		w.chunked = w.req.ProtoMinor >= 1
		if !w.chunked {
			w.keep = false
		}
		w.writeHead()
		if len(w.pending) > 0 {
			w.writeBody(w.pending)
			w.pending = w.pending[:0]
		}
	}
	w.c.bw.Flush()
}

var dateValue atomic.Pointer[dateCache]

type dateCache struct {
	sec  int64
	line string
}

// statusLines holds "HTTP/1.1 200 OK\r\n" and the like for every code from 100 to 999 (net/http
// writes the same reason phrases), made once: a lookup per response costs an index.
var statusLines = func() (t [1000]string) {
	for code := 100; code < len(t); code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		t[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
	}
	return t
}()

// statusLine is the status line of a response of code, which WriteHeader and the upstream
// parsers hold to 100-999.
func statusLine(code int) string {
	if code < 100 || code >= len(statusLines) {
		return "HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
	}
	return statusLines[code]
}

// dateLine is the Date header net/http would add, formatted once a second.
func dateLine() string {
	now := time.Now()
	if d := dateValue.Load(); d != nil && d.sec == now.Unix() {
		return d.line
	}
	d := &dateCache{sec: now.Unix(), line: "Date: " + now.UTC().Format(http.TimeFormat) + "\r\n"}
	dateValue.Store(d)
	return d.line
}

func (w *h1Writer) writeHead() {
	w.wroteHdr = true
	bw := w.c.bw
	bw.WriteString(statusLine(w.status))
	h := w.header
	hasServer := false
	for k, vv := range h {
		switch {
		case k == "Server":
			if w.server.overwrites() {
				continue // the connection manager's own replaces it
			}
			hasServer = true
		case k == "Trailer":
			if !w.chunked {
				continue
			}
		case k == "Content-Length" && (w.chunked || w.clen < 0):
			continue
		case k == "Connection" || k == "Transfer-Encoding":
			continue
		case strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		writeFields(bw, k, vv)
	}
	_, hasDate := h["Date"]
	w.endHead(hasDate, hasServer)
}

// endHead writes the fields the server itself decides after the response's own (a Date
// unless it has one, the connection manager's Server, chunked framing, the client
// connection's Connection) and the blank line.
func (w *h1Writer) endHead(hasDate, hasServer bool) {
	bw := w.c.bw
	if !hasDate {
		bw.WriteString(dateLine())
	}
	w.server.writeTo(bw, hasServer)
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if !w.keep {
		bw.WriteString("Connection: close\r\n")
	} else if w.req.ProtoMinor == 0 {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// finish completes the response after the handler returned and sends it.
func (w *h1Writer) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wroteHdr {
		// The whole body is known: send it with its length.
		if !w.noBody {
			w.clen = int64(len(w.pending))
			w.header["Content-Length"] = []string{strconv.Itoa(len(w.pending))}
		}
		w.writeHead()
		if len(w.pending) > 0 {
			w.c.bw.Write(w.pending)
		}
		w.pending = w.pending[:0]
	} else if w.chunked {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		w.writeTrailers()
		bw.WriteString("\r\n")
	} else if w.clen >= 0 && w.written != w.clen && !w.noBody {
		w.keep = false // a short body: the connection cannot be reused
		w.c.bw.Flush()
		return errors.New("response shorter than its Content-Length")
	}
	return w.c.bw.Flush()
}

// writeTrailers sends the trailers the handler set: announced ones under their names, others
// with http.TrailerPrefix.
func (w *h1Writer) writeTrailers() {
	bw := w.c.bw
	announced := w.header["Trailer"]
	for k, vv := range w.header {
		name := k
		if strings.HasPrefix(k, http.TrailerPrefix) {
			name = k[len(http.TrailerPrefix):]
		} else if !headerHasToken(announced, k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(name)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// prefixedConn replays what was read while telling HTTP/2 from HTTP/1.
type prefixedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// writeFields writes a header field's lines, one per value, as HTTP/1.1 sends them.
func writeFields(bw *bufio.Writer, k string, vv []string) {
	for _, v := range vv {
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(v)
		bw.WriteString("\r\n")
	}
}
