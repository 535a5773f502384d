package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// listenerHandler serves one listener: it routes on the listener's current table and forwards.
// The table pointer is swapped by the control loop; a request keeps the table it loaded.
type listenerHandler struct {
	fwd     *forwarder
	table   atomic.Pointer[routeTable]
	filters atomic.Pointer[httpFilters]
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hf := h.filters.Load()
	if hf == nil {
		hf = &noFilters // from here on hf is never nil
	}
	w = withServerHeader(w, &hf.hdr.server)
	if refusedByCodec(w, r, hf.http10) {
		return
	}
	t := h.table.Load()
	if t == nil {
		sendLocalReply(w, r, http.StatusServiceUnavailable, "no route configuration yet\n")
		return
	}
	normalizeRequestPath(r, hf.paths)
	if hf.stripAnyHostPort {
		stripAnyHostPort(r)
	}
	forwardedHeaders(w, r, hf)
	// An upgrade the connection manager does not enable is refused once a route matches,
	// before any filter, as Envoy refuses it (upgrade.go). Other requests pay one map lookup.
	_, asksUpgrade := r.Header["Upgrade"]
	if asksUpgrade && rejectsUpgrade(hf, r) && t.lookup(r) != nil {
		h.fwd.stats.upgradesRejected.Add(1)
		refuseUpgrade(w)
		return
	}
	// jwt_authn, then RBAC, run before the route is looked up, as Envoy's filters run before
	// the router: a refused request is refused whether or not a route would have served it.
	var lr *linkedRoute
	var md jwtMetadata
	looked := false
	if hf.jwt != nil {
		// Without clear_route_cache Envoy keeps the route it picked on the headers as they
		// arrived, before the filter removed the token or added the payload header.
		if !hf.jwt.clearRouteCache {
			lr, looked = t.lookup(r), true
		}
		var ok bool
		if md, ok = hf.jwt.authenticate(w, r, &h.fwd.stats); !ok {
			return
		}
	}
	if hf.rbac != nil && !hf.rbac.permit(w, r, &h.fwd.stats, md) {
		return
	}
	if !looked {
		lr = t.lookup(r)
	}
	if lr == nil {
		sendLocalReply(w, r, http.StatusNotFound, "")
		return
	}
	h.fwd.serve(w, r, lr, hf, asksUpgrade && hf.websocket && wantsWebSocket(r))
}

// forwarder sends requests upstream over the shared pools: HTTP/1.1 for most clusters,
// prior-knowledge h2c for clusters configured for HTTP/2 (gRPC); clusters with TLS or pool
// options of their own use their own pools.
type forwarder struct {
	h1        *h1Transport // plain HTTP/1.1 upstreams, the common case
	transport *http.Transport
	h2c       *http.Transport
	timeouts  atomic.Pointer[map[string]time.Duration]
	stats     statsRegistry
	log       *slog.Logger
}

func newForwarder(log *slog.Logger) *forwarder {
	f := &forwarder{log: log}
	f.transport = newTransport(&f.timeouts, false)
	f.h2c = newTransport(&f.timeouts, true)
	f.h1 = &h1Transport{dial: (&dialer{timeouts: &f.timeouts}).dial, fallback: f.transport}
	return f
}

// Shared header values: assigning a shared slice costs no allocation, and nothing downstream
// of the proxy mutates header slices.
var (
	textPlain   = []string{"text/plain; charset=utf-8"}
	textPlainDR = []string{"text/plain"}
	protoHTTP   = []string{"http"}
	teTrailers  = []string{"trailers"}
	noUserAgent = []string{""}
	noSniff     = []string{"nosniff"}
	overloaded  = []string{"true"}
)

// Bodies of the answers the proxy gives itself, worded as Envoy words them.
const (
	errNoCluster = "unknown cluster\n"
	errNoHealthy = "no healthy upstream\n"
	errUpstream  = "upstream connect error or disconnect/reset before headers\n"
	errOverflow  = "upstream connect error or disconnect/reset before headers. reset reason: overflow\n"
	errTimeout   = "upstream request timeout\n"
)

func reply(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(code)
	if body != "" {
		io.WriteString(w, body)
	}
}

// maxReplayBody is the largest request body buffered so a retry or a mirror can resend it;
// a larger or unsized body is streamed once and not retried or mirrored.
const maxReplayBody = 64 << 10

// exchange is one request's state through the router; kept on the stack.
type exchange struct {
	lr        *linkedRoute
	tg        *target
	cors      *corsPolicy
	setCookie string
	// upgrade: a WebSocket upgrade request on a listener that enables them (upgrade.go).
	upgrade bool
	// envoyHeaders: the router adds x-envoy-upstream-service-time to responses and
	// x-envoy-expected-rq-timeout-ms to requests (suppress_envoy_headers unset);
	// serviceTime is the former's value once the upstream answered.
	envoyHeaders bool
	serviceTime  string
}

func (x *exchange) clone() *exchange {
	c := *x
	return &c
}

// responseHeaders applies the response header operations of every level (weighted cluster,
// route, virtual host, route configuration, as Envoy orders them), then CORS.
func (x *exchange) responseHeaders(h http.Header, r *http.Request) {
	if x.tg != nil && !x.tg.respHdr.empty() {
		x.tg.respHdr.apply(h)
	}
	if rt := x.lr.r; !rt.respHdr.empty() {
		rt.respHdr.apply(h)
	}
	if !x.lr.vh.respHdr.empty() {
		x.lr.vh.respHdr.apply(h)
	}
	if !x.lr.rc.respHdr.empty() {
		x.lr.rc.respHdr.apply(h)
	}
	if x.cors != nil {
		x.cors.decorate(h, r)
	}
	if x.setCookie != "" {
		h["Set-Cookie"] = append(h["Set-Cookie"], x.setCookie)
	}
}

// localReply answers from the proxy with the route's response headers.
func (x *exchange) localReply(w http.ResponseWriter, r *http.Request, code int, body string) {
	x.responseHeaders(w.Header(), r)
	sendLocalReply(w, r, code, body)
}

// serve runs the HTTP filters (CORS, then fault, as Istio orders them) and the router;
// upgrade says r is a WebSocket upgrade its connection manager enables (upgrade.go).
func (f *forwarder) serve(w http.ResponseWriter, r *http.Request, lr *linkedRoute, hf *httpFilters, upgrade bool) {
	rt := lr.r
	x := exchange{lr: lr, upgrade: upgrade, envoyHeaders: !hf.hdr.suppressEnvoyHeaders}
	if hf.cors {
		if cp := pickCors(lr); cp != nil && cp.enabled.hit() {
			if origin := r.Header["Origin"]; len(origin) > 0 && origin[0] != "" {
				if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
					if cp.preflight(w, r, origin[0]) {
						return
					}
				} else if cp.allowed(origin[0]) {
					x.cors = cp
				}
			}
		}
	}
	if hf.fault != nil {
		fp := hf.fault
		if p := pickFault(lr); p != nil {
			fp = p
		}
		// The hook gets its own copy of the exchange (nothing is picked yet), so x itself
		// does not escape to the heap on requests without faults.
		if (fp.hasDelay || fp.hasAbort) && fp.inject(&headerHook{ResponseWriter: w, x: x.clone(), r: r}, r) {
			return
		}
	}
	switch rt.action {
	case actionDirect:
		h := w.Header()
		x.responseHeaders(h, r)
		if rt.direct.body != "" {
			h["Content-Type"] = textPlainDR
			h["Content-Length"] = []string{strconv.Itoa(len(rt.direct.body))}
		}
		w.WriteHeader(rt.direct.status)
		io.WriteString(w, rt.direct.body)
		return
	case actionRedirect:
		h := w.Header()
		x.responseHeaders(h, r)
		h["Location"] = []string{rt.redirect.location(r)}
		w.WriteHeader(rt.redirect.code)
		return
	}
	f.forward(w, r, &x)
}

// headerHook applies the route's response headers to a reply the fault filter writes.
type headerHook struct {
	http.ResponseWriter
	x     *exchange
	r     *http.Request
	wrote bool
}

func (h *headerHook) WriteHeader(code int) {
	if !h.wrote {
		h.wrote = true
		h.x.responseHeaders(h.ResponseWriter.Header(), h.r)
	}
	h.ResponseWriter.WriteHeader(code)
}

// pickCors and pickFault take the most specific per-filter configuration, as Envoy does.
func pickCors(lr *linkedRoute) *corsPolicy {
	switch {
	case lr.r.filters.cors != nil:
		return lr.r.filters.cors
	case lr.vh.filters.cors != nil:
		return lr.vh.filters.cors
	}
	return lr.rc.filters.cors
}

func pickFault(lr *linkedRoute) *faultPolicy {
	switch {
	case lr.r.filters.fault != nil:
		return lr.r.filters.fault
	case lr.vh.filters.fault != nil:
		return lr.vh.filters.fault
	}
	return lr.rc.filters.fault
}

func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, x *exchange) {
	lr, rt := x.lr, x.lr.r
	ti := lr.pickCluster()
	x.tg = &rt.targets[ti]
	c := lr.clusters[ti]
	if c == nil {
		x.localReply(w, r, http.StatusServiceUnavailable, errNoCluster)
		return
	}
	start := monoNow()

	// Request header operations, most specific first, as Envoy applies them.
	h := r.Header
	if !x.tg.reqHdr.empty() {
		x.tg.reqHdr.apply(h)
	}
	if !rt.reqHdr.empty() {
		rt.reqHdr.apply(h)
	}
	if !lr.vh.reqHdr.empty() {
		lr.vh.reqHdr.apply(h)
	}
	if !lr.rc.reqHdr.empty() {
		lr.rc.reqHdr.apply(h)
	}
	rewritePath(r, rt, x.envoyHeaders)
	if rt.hostRewrite != "" {
		r.Host = rt.hostRewrite
	}
	// An upgrade goes over a connection of its own, never retried or mirrored, as Envoy's.
	if x.upgrade && c.cfg.protocol != upstreamHTTP2 {
		if hw, ok := w.(*h1Writer); ok {
			f.forwardUpgrade(hw, r, x, c, start)
			return
		}
	}

	// A body is buffered only when a retry or a mirror may need to send it again.
	retry := rt.retry
	replayable := true
	if (retry != nil && retry.numRetries > 0) || len(rt.mirrors) > 0 {
		replayable = bufferBody(r)
	}
	if !replayable {
		retry = nil
	}
	client := r.Context()
	prepareUpstreamRequest(r)
	if len(rt.mirrors) > 0 && replayable {
		f.mirror(r, lr)
	}

	var hash uint64
	var hasHash bool
	if len(rt.hash) > 0 && (c.cfg.lb == lbRingHash || c.cfg.lb == lbMaglev) {
		hash, hasHash, x.setCookie = requestHash(rt.hash, r)
	}

	// The lean HTTP/1.1 transport takes the route and per-try timeouts as connection
	// deadlines, which cost no context, timer or goroutine; other transports get contexts.
	tr := f.transportFor(c, r)
	lean := tr == f.h1 && f.h1.handles(r) && client.Done() == nil && c.cfg.maxPerConn <= 1
	var deadline time.Time
	ctx := client
	routeTimeout := requestTimeout(rt, r)
	if t := routeTimeout; t > 0 {
		if lean {
			deadline = time.Now().Add(t)
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(client, t)
			defer cancel()
		}
	}
	var triedBuf [4]*endpoint
	tried := triedBuf[:0]
	attempt := 0
	for {
		attempt++
		var avoid []*endpoint
		if retry != nil && retry.previousHosts {
			avoid = tried
		}
		ep := c.pickFor(hash, hasHash, avoid)
		if ep == nil {
			x.localReply(w, r, http.StatusServiceUnavailable, errNoHealthy)
			c.stats.record(http.StatusServiceUnavailable, monoNow()-start)
			lr.stats.record(http.StatusServiceUnavailable)
			return
		}
		switch c.admit(r) {
		case overflowPending, overflowRequests:
			if client.Err() != nil {
				return
			}
			w.Header()["X-Envoy-Overloaded"] = overloaded
			x.localReply(w, r, http.StatusServiceUnavailable, errOverflow)
			c.stats.record(http.StatusServiceUnavailable, monoNow()-start)
			lr.stats.record(http.StatusServiceUnavailable)
			return
		}
		if attempt > 1 {
			if r.GetBody != nil {
				r.Body, _ = r.GetBody()
			}
			tried = append(tried, ep)
		} else if retry != nil {
			tried = append(tried, ep)
		}
		if lr.vh.attemptCount {
			r.Header["X-Envoy-Attempt-Count"] = attemptCountValue(attempt)
		}
		if x.envoyHeaders {
			setExpectedTimeout(r.Header, rt, routeTimeout, retry, monoNow()-start)
		}
		r.URL.Host = ep.addr
		if c.cfg.tls != nil {
			r.URL.Scheme = "https"
		}
		actx, acancel := ctx, context.CancelFunc(nil)
		var resp *http.Response
		var err error
		ep.active.Add(1)
		if lean {
			attemptDeadline := deadline
			if retry != nil && retry.perTryTimeout > 0 {
				if pd := time.Now().Add(retry.perTryTimeout); deadline.IsZero() || pd.Before(deadline) {
					attemptDeadline = pd
				}
			}
			lx := leanExchange{deadline: attemptDeadline, relay: x.relaysHead(w, retry), owned: true}
			if attempt == 1 {
				lx.now = start
			}
			resp, err = f.h1.roundTrip(r, lx)
		} else {
			if retry != nil && retry.perTryTimeout > 0 {
				actx, acancel = context.WithTimeout(ctx, retry.perTryTimeout)
			}
			req := r
			if actx != client {
				req = r.WithContext(actx)
			}
			if c.cfg.maxPerConn > 1 {
				req = limitRequestsPerConn(req, c.cfg.maxPerConn)
			}
			resp, err = tr.RoundTrip(req)
		}
		if err != nil {
			ep.active.Add(-1)
			c.release()
			if acancel != nil {
				acancel()
			}
			if client.Err() != nil || errors.Is(err, errClientGone) {
				return // the client went away; nobody to answer
			}
			kind := failReset
			var op *net.OpError
			leanTimeout := lean && isTimeout(err)
			switch {
			case ctx.Err() != nil || (leanTimeout && !deadline.IsZero() && !time.Now().Before(deadline)):
				// The route's timeout: no retry outlives it.
				c.report(ep, 0)
				x.localReply(w, r, http.StatusGatewayTimeout, errTimeout)
				c.stats.record(http.StatusGatewayTimeout, monoNow()-start)
				lr.stats.record(http.StatusGatewayTimeout)
				return
			case actx.Err() != nil || leanTimeout:
				kind = failTimeout
			case errors.As(err, &op) && op.Op == "dial":
				kind = failConnect
			}
			c.report(ep, 0)
			if retry != nil && attempt <= retry.numRetries && retry.retriableFailure(kind) && canReplay(r) && f.backoff(ctx, c, retry, attempt) {
				continue
			}
			f.log.Debug("upstream request failed", "cluster", c.cfg.name, "endpoint", ep.addr, "err", err)
			code, body := http.StatusServiceUnavailable, errUpstream
			if kind == failTimeout {
				code, body = http.StatusGatewayTimeout, errTimeout
			}
			x.localReply(w, r, code, body)
			c.stats.record(code, monoNow()-start)
			lr.stats.record(code)
			return
		}
		c.report(ep, resp.StatusCode)
		if retry != nil && attempt <= retry.numRetries && retry.retriableResponse(resp) && canReplay(r) {
			if f.backoffAfter(ctx, c, retry, attempt, resp) {
				ep.active.Add(-1)
				c.release()
				if acancel != nil {
					acancel()
				}
				continue
			}
		}
		if x.envoyHeaders {
			x.serviceTime = upstreamServiceTime(monoNow() - start)
		}
		f.relay(w, r, x, resp, c, ep, acancel, start)
		return
	}
}

// relay sends the upstream response to the client. respond panics (http.ErrAbortHandler) when
// the upstream body breaks off: the request's hold on the endpoint and the circuit breakers is
// released either way. Its own function, so the deferred release is open-coded rather than a
// closure allocated per request inside forward's retry loop.
func (f *forwarder) relay(w http.ResponseWriter, r *http.Request, x *exchange, resp *http.Response, c *cluster, ep *endpoint,
	acancel context.CancelFunc, start time.Duration) {
	code := resp.StatusCode // resp may be the upstream connection's, reused once its body is closed
	defer func() {
		end := monoNow()
		if b, ok := resp.Body.(*h1Body); ok {
			b.closedAt = end
		}
		resp.Body.Close()
		ep.active.Add(-1)
		c.release()
		if acancel != nil {
			acancel()
		}
		c.stats.record(code, end-start)
		x.lr.stats.record(code)
	}()
	f.respond(w, r, x, resp)
}

// backoffAfter discards a retriable response and waits before the retry; false when the
// retry is refused (max_retries) or the route's time ran out, and resp is then still unread.
func (f *forwarder) backoffAfter(ctx context.Context, c *cluster, rp *retryPolicy, attempt int, resp *http.Response) bool {
	if !c.admitRetry() {
		return false
	}
	defer c.retries.Add(-1)
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	t := time.NewTimer(rp.backoff(attempt))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return true // the next attempt fails at once with the route's timeout
	}
}

// backoff waits before retrying a failed attempt; false when max_retries refuses it.
func (f *forwarder) backoff(ctx context.Context, c *cluster, rp *retryPolicy, attempt int) bool {
	if !c.admitRetry() {
		return false
	}
	defer c.retries.Add(-1)
	t := time.NewTimer(rp.backoff(attempt))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// respond copies the upstream response to the client.
func (f *forwarder) respond(w http.ResponseWriter, r *http.Request, x *exchange, resp *http.Response) {
	h := w.Header()
	var declared []string // trailers the upstream announced; others arrive unannounced (gRPC)
	if b, ok := resp.Body.(*h1Body); ok && b.relay != nil {
		w.(*h1Writer).relayHead(resp.StatusCode, b.relay, resp.ContentLength, x.serviceTime) // h1relay.go
	} else {
		copyResponseHeader(h, resp.Header)
		if x.serviceTime != "" {
			h["X-Envoy-Upstream-Service-Time"] = []string{x.serviceTime}
		}
		x.responseHeaders(h, r)
		for k := range resp.Trailer {
			h.Add("Trailer", k)
			declared = append(declared, k)
		}
		w.WriteHeader(resp.StatusCode)
	}
	if err := copyBody(w, resp.Body, resp.ContentLength == -1); err != nil {
		if errors.Is(err, errClientWrite) || r.Context().Err() != nil {
			return
		}
		// The upstream broke off mid-body (or the route timed out). Abort the client's
		// stream too, so a truncated response cannot pass for a complete one.
		f.log.Debug("upstream body failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		if slices.Contains(declared, k) {
			h[k] = vv
		} else {
			h[http.TrailerPrefix+k] = vv
		}
	}
}

// requestTimeout is the route's timeout for r: the route timeout, or for a gRPC request on a
// route with max_grpc_timeout, the client's grpc-timeout (none when absent) capped at
// max_grpc_timeout when that is not 0, as Envoy does.
func requestTimeout(rt *route, r *http.Request) time.Duration {
	if !rt.grpcTimeout {
		return rt.timeout
	}
	// The canonical key indexed directly: Header.Get canonicalizes it again on every request.
	if ct := r.Header["Content-Type"]; len(ct) == 0 || !strings.HasPrefix(ct[0], "application/grpc") {
		return rt.timeout
	}
	t, ok := parseGRPCTimeout(r.Header.Get("Grpc-Timeout"))
	if !ok {
		t = 0
	}
	if rt.maxGRPC > 0 && (t == 0 || t > rt.maxGRPC) {
		t = rt.maxGRPC
	}
	return t
}

// parseGRPCTimeout reads gRPC's "grpc-timeout" header: up to 8 digits and a unit.
func parseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var u time.Duration
	switch v[len(v)-1] {
	case 'H':
		u = time.Hour
	case 'M':
		u = time.Minute
	case 'S':
		u = time.Second
	case 'm':
		u = time.Millisecond
	case 'u':
		u = time.Microsecond
	case 'n':
		u = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * u, true
}

// rewritePath applies prefix_rewrite or regex_rewrite to the request's path, keeping the
// query; with original, the path as it was (query included) goes upstream in
// x-envoy-original-path, as Envoy's router sends it unless suppress_envoy_headers.
func rewritePath(r *http.Request, rt *route, original bool) {
	if !rt.hasPrefixRw && rt.regexRewrite == nil {
		return
	}
	if original {
		before := r.RequestURI
		if before == "" || before[0] != '/' {
			before = r.URL.RequestURI()
		}
		r.Header["X-Envoy-Original-Path"] = []string{before}
	}
	path := requestPath(r)
	switch {
	case rt.hasPrefixRw:
		matched := len(path)
		if rt.kind == pathPrefix {
			matched = min(len(rt.path), len(path))
		}
		path = rt.prefixRewrite + path[matched:]
	default:
		path = rt.regexRewrite.apply(path)
	}
	setPath(r, path)
}

func setPath(r *http.Request, path string) {
	if p, err := url.PathUnescape(path); err == nil {
		r.URL.Path = p
	} else {
		r.URL.Path = path
	}
	r.URL.RawPath = path
	r.RequestURI = ""
}

// bufferBody makes r's body one that can be sent again: a small sized one is read into
// memory, one of unknown length is kept as it streams; false for a sized body too large to
// keep.
func bufferBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength < 0 {
		// Streamed and kept as it goes (replay_body.go): whether a retry or a mirror can
		// have it is known only once it has come, so each checks then (canReplay,
		// mirrorCopy).
		keepForReplay(r)
		return true
	}
	if r.ContentLength > maxReplayBody {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	if err != nil {
		return false
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return true
}

// mirror sends shadow copies of r to the route's mirror clusters, fire and forget: the
// response is discarded and the client's request never waits for it.
func (f *forwarder) mirror(r *http.Request, lr *linkedRoute) {
	for i, mp := range lr.r.mirrors {
		c := lr.mirrors[i]
		if c == nil || !mp.share.hit() {
			continue
		}
		ep := c.pick()
		if ep == nil {
			continue
		}
		if c.admit(r) != noOverflow {
			continue
		}
		scheme := "http"
		if c.cfg.tls != nil {
			scheme = "https"
		}
		host := r.Host
		if !mp.noSuffix {
			host = shadowHost(host)
		}
		sr := &http.Request{
			Method:        r.Method,
			URL:           &url.URL{Scheme: scheme, Host: ep.addr, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        r.Header.Clone(),
			Host:          host,
			ContentLength: r.ContentLength,
			Body:          mirrorCopy(r),
		}
		timeout := lr.r.timeout
		if timeout <= 0 {
			timeout = defaultRouteTimeout
		}
		c.stats.mirrors.Add(1)
		go func() {
			defer c.release()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := monoNow()
			resp, err := f.transportFor(c, sr).RoundTrip(sr.WithContext(ctx))
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			c.stats.record(resp.StatusCode, monoNow()-start)
		}()
	}
}

// transportFor picks the pool by the cluster's upstream protocol.
func (f *forwarder) transportFor(c *cluster, r *http.Request) http.RoundTripper {
	if p := c.pool; p != nil {
		if c.cfg.protocol == upstreamHTTP2 || (c.cfg.protocol == upstreamAsDownstream && r.ProtoMajor == 2) {
			return p.http2
		}
		return p.http1
	}
	switch c.cfg.protocol {
	case upstreamHTTP2:
		return f.h2c
	case upstreamAsDownstream:
		if r.ProtoMajor == 2 {
			return f.h2c
		}
	}
	return f.h1
}

// forwardedHeaders applies to a request what Envoy's connection manager does before its
// filters run (so routes and RBAC match what the upstream will see), with no trusted hops
// and no internal addresses (hcm_headers.go): the router's x-envoy-* controls are stripped,
// and x-forwarded-client-cert as forward_client_cert_details says; with use_remote_address
// (an edge request) the connection decides the protocol, its peer is appended to
// X-Forwarded-For and recorded in X-Envoy-External-Address, and X-Request-Id is always a new
// one unless preserve_external_request_id; without it X-Forwarded-For is left as the client
// sent it, X-Forwarded-Proto is only filled in when missing and a client's X-Request-Id is
// kept. generate_request_id false leaves a request without X-Request-Id without one.
func forwardedHeaders(w http.ResponseWriter, r *http.Request, hf *httpFilters) {
	h := r.Header
	edge := hf.useRemoteAddress
	setClientCert(w, r, hf.hdr.xfcc, cleanRequestHeaders(h, edge, hf.hdr.xfcc.mode))
	if !hf.noRequestID {
		if _, ok := h["X-Request-Id"]; !ok || edge && !hf.hdr.preserveExternalRequestID {
			h["X-Request-Id"] = newRequestID()
		}
	}
	if _, ok := h["X-Forwarded-Proto"]; edge || !ok {
		if r.TLS != nil {
			h["X-Forwarded-Proto"] = protoHTTPS
		} else {
			h["X-Forwarded-Proto"] = protoHTTP
		}
	}
	if !edge {
		return
	}
	ci, _ := r.Context().Value(connInfoKey{}).(*connInfo)
	if ci == nil {
		ci = newConnInfo(r.RemoteAddr)
	}
	if prior, ok := h["X-Forwarded-For"]; ok {
		h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + ci.ip}
	} else {
		h["X-Forwarded-For"] = ci.xff
	}
	h["X-Envoy-External-Address"] = ci.xff // the one address, as X-Forwarded-For starts
}

// prepareUpstreamRequest turns the server's request into the upstream one in place. The
// server snapshots what it needs from the request before calling the handler (keep-alive and
// close decisions, the body to drain), so reusing it saves a request and a header clone per
// call, which is most of what httputil.ReverseProxy allocates. The upstream's address is set
// per attempt, once an endpoint is picked.
func prepareUpstreamRequest(r *http.Request) {
	r.URL.Scheme = "http"
	r.URL.Host = ""
	r.RequestURI = ""
	r.Close = false // the client's Connection: close is about its hop, not ours
	h := r.Header
	removeHopByHop(h)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent // keep Go's default User-Agent out
	}
}

// removeHopByHop drops the headers that describe one connection, not the message (RFC 9110
// section 7.6.1), keeping "TE: trailers", which gRPC needs end to end.
func removeHopByHop(h http.Header) {
	if conn, ok := h["Connection"]; ok {
		for _, v := range conn {
			for tok := range strings.SplitSeq(v, ",") {
				if tok = textproto.TrimString(tok); tok != "" {
					delete(h, textproto.CanonicalMIMEHeaderKey(tok))
				}
			}
		}
		delete(h, "Connection")
	}
	delete(h, "Proxy-Connection")
	delete(h, "Keep-Alive")
	delete(h, "Transfer-Encoding")
	delete(h, "Upgrade")
	if te, ok := h["Te"]; ok {
		delete(h, "Te")
		for _, v := range te {
			if strings.Contains(strings.ToLower(v), "trailers") {
				h["Te"] = teTrailers
				break
			}
		}
	}
}

// copyResponseHeader shares the upstream's value slices instead of copying them.
func copyResponseHeader(dst, src http.Header) {
	conn := src["Connection"]
	for k, vv := range src {
		switch k {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Te", "Trailer":
			continue
		}
		if len(conn) > 0 && listedIn(conn, k) {
			continue
		}
		dst[k] = vv
	}
}

func listedIn(conn []string, key string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(tok), key) {
				return true
			}
		}
	}
	return false
}

var errClientWrite = errors.New("writing to the client failed")

// copyBody streams the upstream body to the client with a pooled buffer. A body of unknown
// length (streaming, gRPC, server-sent events) is flushed after every read, as Envoy streams;
// a sized body is left to the server's buffered writer so headers and a small body leave in
// one write.
func copyBody(w http.ResponseWriter, body io.Reader, stream bool) error {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	var fl http.Flusher
	if stream {
		fl, _ = w.(http.Flusher)
	}
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientWrite
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// connInfo is computed once per downstream connection, so X-Forwarded-For costs no allocation
// per request in the common case (no X-Forwarded-For from the client).
type connInfo struct {
	ip   string
	xff  []string
	down *downstream // set by the lean server
	// conn is the connection net/http's server serves (h2c, h2 over TLS), for what RBAC
	// reads of it: the local address, the TLS SNI and client certificate.
	conn net.Conn
	// xfcc is the connection's x-forwarded-client-cert element (hcm_xfcc.go), shared by
	// its HTTP/2 streams.
	xfcc atomic.Pointer[xfccElement]
}

type connInfoKey struct{}

func newConnInfo(remoteAddr string) *connInfo {
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip = remoteAddr
	}
	return &connInfo{ip: ip, xff: []string{ip}}
}

func withConnInfo(ctx context.Context, c net.Conn) context.Context {
	ci := newConnInfo(c.RemoteAddr().String())
	ci.conn = c
	return context.WithValue(ctx, connInfoKey{}, ci)
}
