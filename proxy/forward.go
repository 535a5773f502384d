package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// listenerHandler serves one listener: it routes on the listener's current table and forwards.
// The table pointer is swapped by the control loop; a request keeps the table it loaded.
type listenerHandler struct {
	fwd   *forwarder
	table atomic.Pointer[routeTable]
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := h.table.Load()
	if t == nil {
		reply(w, http.StatusServiceUnavailable, "no route configuration yet\n")
		return
	}
	lr := t.lookup(r)
	if lr == nil {
		reply(w, http.StatusNotFound, "")
		return
	}
	h.fwd.forward(w, r, lr)
}

// forwarder sends requests upstream over the shared pools: HTTP/1.1 for most clusters,
// prior-knowledge h2c for clusters configured for HTTP/2 (gRPC).
type forwarder struct {
	transport *http.Transport
	h2c       *http.Transport
	timeouts  atomic.Pointer[map[string]time.Duration]
	log       *slog.Logger
}

func newForwarder(log *slog.Logger) *forwarder {
	f := &forwarder{log: log}
	f.transport = newTransport(&f.timeouts, false)
	f.h2c = newTransport(&f.timeouts, true)
	return f
}

// Shared header values: assigning a shared slice costs no allocation, and nothing downstream
// of the proxy mutates header slices.
var (
	textPlain   = []string{"text/plain; charset=utf-8"}
	protoHTTP   = []string{"http"}
	teTrailers  = []string{"trailers"}
	noUserAgent = []string{""}
	noSniff     = []string{"nosniff"}
)

// Bodies of the answers the proxy gives itself, worded as Envoy words them.
const (
	errNoCluster = "unknown cluster\n"
	errNoHealthy = "no healthy upstream\n"
	errUpstream  = "upstream connect error or disconnect/reset before headers\n"
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

func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, lr *linkedRoute) {
	c := lr.clusters[lr.pickCluster()]
	if c == nil {
		reply(w, http.StatusServiceUnavailable, errNoCluster)
		return
	}
	ep := c.pick()
	if ep == nil {
		reply(w, http.StatusServiceUnavailable, errNoHealthy)
		return
	}
	ep.active.Add(1)
	defer ep.active.Add(-1)

	client := r.Context()
	if t := lr.r.timeout; t > 0 {
		// Only routes with a timeout pay for a timer and a request copy.
		ctx, cancel := context.WithTimeout(client, t)
		defer cancel()
		r = r.WithContext(ctx)
	}
	prepareUpstreamRequest(r, ep.addr)
	resp, err := f.transportFor(c, r).RoundTrip(r)
	if err != nil {
		switch {
		case client.Err() != nil:
			return // the client went away; nobody to answer
		case errors.Is(err, context.DeadlineExceeded):
			reply(w, http.StatusGatewayTimeout, errTimeout)
		default:
			f.log.Debug("upstream request failed", "cluster", c.cfg.name, "endpoint", ep.addr, "err", err)
			reply(w, http.StatusServiceUnavailable, errUpstream)
		}
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	copyResponseHeader(h, resp.Header)
	var declared []string // trailers the upstream announced; others arrive unannounced (gRPC)
	for k := range resp.Trailer {
		h.Add("Trailer", k)
		declared = append(declared, k)
	}
	w.WriteHeader(resp.StatusCode)
	if err := copyBody(w, resp.Body, resp.ContentLength == -1); err != nil {
		if errors.Is(err, errClientWrite) || client.Err() != nil {
			return
		}
		// The upstream broke off mid-body (or the route timed out). Abort the client's
		// stream too, so a truncated response cannot pass for a complete one.
		f.log.Debug("upstream body failed", "cluster", c.cfg.name, "endpoint", ep.addr, "err", err)
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

// transportFor picks the pool by the cluster's upstream protocol.
func (f *forwarder) transportFor(c *cluster, r *http.Request) *http.Transport {
	switch c.cfg.protocol {
	case upstreamHTTP2:
		return f.h2c
	case upstreamAsDownstream:
		if r.ProtoMajor == 2 {
			return f.h2c
		}
	}
	return f.transport
}

// prepareUpstreamRequest turns the server's request into the upstream one in place. The
// server snapshots what it needs from the request before calling the handler (keep-alive and
// close decisions, the body to drain), so reusing it saves a request and a header clone per
// call, which is most of what httputil.ReverseProxy allocates.
func prepareUpstreamRequest(r *http.Request, addr string) {
	r.URL.Scheme = "http"
	r.URL.Host = addr
	r.RequestURI = ""
	r.Close = false // the client's Connection: close is about its hop, not ours
	h := r.Header
	removeHopByHop(h)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent // keep Go's default User-Agent out
	}
	if _, ok := h["X-Forwarded-Proto"]; !ok {
		h["X-Forwarded-Proto"] = protoHTTP
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
	ip  string
	xff []string
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
	return context.WithValue(ctx, connInfoKey{}, newConnInfo(c.RemoteAddr().String()))
}
