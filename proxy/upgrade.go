package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WebSocket over HTTP/1.1, as Envoy tunnels it on an HTTP connection manager whose
// upgrade_configs enable "websocket" (upgrade_config.go). The request is routed and filtered
// like any other (RBAC, JWT, fault aborts, direct responses and redirects answer it without an
// upgrade); then, instead of the keep-alive pool, it goes over an upstream connection of its
// own, with Upgrade and "Connection: Upgrade" kept. A 101 from the upstream is relayed to the
// client and both connections become one byte tunnel (tcp_relay.go) until both sides have
// closed; any other answer is relayed as a normal response and the client's connection stays
// HTTP. The route timeout bounds the handshake only: Envoy's ends with the upgrade response.
// Like Envoy, the proxy neither retries nor mirrors an upgrade request. The tunnel holds the
// request's circuit-breaker admission (and so, on a cluster with max_connections, its
// connection slot) until it ends.
//
// An upgrade request ("Connection: upgrade" and an Upgrade header) whose type the connection
// manager does not enable (any type on one without upgrade_configs, or anything but websocket)
// is answered 403 with the connection closed once a route matches, before the HTTP filters,
// as Envoy's connection manager answers it (upgrade_failed). An h2c upgrade, which Envoy's
// HTTP/1 codec drops, and an Upgrade header without the Connection token are forwarded as
// plain requests without them.

// upgradeRequested returns the Upgrade value of an HTTP/1 request that asks to switch
// protocols (ok false for h2c, which is not an upgrade to Envoy).
func upgradeRequested(r *http.Request) (upgrade string, ok bool) {
	up := r.Header["Upgrade"]
	if len(up) == 0 || r.ProtoMajor != 1 || !headerHasToken(r.Header["Connection"], "upgrade") {
		return "", false
	}
	upgrade = strings.TrimSpace(strings.Join(up, ","))
	return upgrade, !strings.EqualFold(upgrade, "h2c")
}

// rejectsUpgrade reports whether r asks for an upgrade that hf's connection manager does not
// enable.
func rejectsUpgrade(hf *httpFilters, r *http.Request) bool {
	upgrade, ok := upgradeRequested(r)
	return ok && !(hf.websocket && strings.EqualFold(upgrade, webSocketUpgradeType))
}

// refuseUpgrade answers Envoy's local reply to a refused upgrade: 403, no body, and no more
// requests on the connection (the client may already be sending upgraded bytes).
func refuseUpgrade(w http.ResponseWriter) {
	if hw, ok := w.(*h1Writer); ok {
		hw.keep = false
	}
	w.WriteHeader(http.StatusForbidden)
}

// wantsWebSocket reports whether r asks to switch to WebSocket, which its connection manager
// enables: "Upgrade: websocket" (compared case-insensitively, as Envoy compares it with the
// upgrade type), "upgrade" among the Connection tokens, and no body of unknown length. The
// caller asks only when the request has an Upgrade header.
func wantsWebSocket(r *http.Request) bool {
	upgrade, ok := upgradeRequested(r)
	return ok && r.ContentLength >= 0 && strings.EqualFold(upgrade, webSocketUpgradeType)
}

// forwardUpgrade sends the upgrade request r (routed, its headers rewritten) to an endpoint of
// c over a new connection, and tunnels the client's connection to it if the upstream switches
// protocols.
func (f *forwarder) forwardUpgrade(w *h1Writer, r *http.Request, x *exchange, c *cluster, start time.Duration) {
	lr, rt := x.lr, x.lr.r
	upgrade := r.Header["Upgrade"]
	prepareUpstreamRequest(r)
	r.Header["Upgrade"] = upgrade // removed with the other hop-by-hop headers; this hop needs it
	var hash uint64
	var hasHash bool
	if len(rt.hash) > 0 && (c.cfg.lb == lbRingHash || c.cfg.lb == lbMaglev) {
		hash, hasHash, x.setCookie = requestHash(rt.hash, r)
	}
	answer := func(code int, body string) {
		x.localReply(w, r, code, body)
		c.stats.record(code, monoNow()-start)
		lr.stats.record(code)
	}
	ep := c.pickFor(hash, hasHash, nil)
	if ep == nil {
		answer(http.StatusServiceUnavailable, errNoHealthy)
		return
	}
	switch c.admit(r) {
	case overflowPending, overflowRequests:
		w.Header()["X-Envoy-Overloaded"] = overloaded
		answer(http.StatusServiceUnavailable, errOverflow)
		return
	}
	ep.active.Add(1)
	defer func() {
		ep.active.Add(-1)
		c.release()
	}()

	up, err := dialCluster(c.cfg, ep.addr)
	if err != nil {
		c.report(ep, 0)
		f.log.Debug("upgrade: upstream connect failed", "cluster", c.cfg.name, "endpoint", ep.addr, "err", err)
		answer(http.StatusServiceUnavailable, errUpstream)
		return
	}
	closeUp := true
	defer func() {
		if closeUp {
			up.Close()
		}
	}()
	// The client leaving before the answer closes the upstream connection (clientwatch.go).
	down := w.c.down
	if !down.attach(up) {
		return
	}
	defer down.detach(up)
	var deadline time.Time
	if t := requestTimeout(rt, r); t > 0 {
		deadline = time.Now().Add(t)
		up.SetDeadline(deadline)
	}
	ubr := bufio.NewReaderSize(up, 4096)
	resp, err := upgradeExchange(up, ubr, r)
	if err != nil {
		if down.isGone() {
			return
		}
		c.report(ep, 0)
		f.log.Debug("upgrade: upstream request failed", "cluster", c.cfg.name, "endpoint", ep.addr, "err", err)
		if isTimeout(err) && !deadline.IsZero() {
			answer(http.StatusGatewayTimeout, errTimeout)
			return
		}
		answer(http.StatusServiceUnavailable, errUpstream)
		return
	}
	c.report(ep, resp.StatusCode)
	answered := monoNow() - start
	c.stats.record(resp.StatusCode, answered)
	lr.stats.record(resp.StatusCode)
	if x.envoyHeaders {
		x.serviceTime = upstreamServiceTime(answered)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Refused: an ordinary response, within the route timeout; the client's
		// connection stays HTTP and the upstream one closes with this function.
		defer resp.Body.Close()
		f.respond(w, r, x, resp)
		return
	}
	up.SetDeadline(time.Time{})
	down.detach(up)
	closeUp = false
	f.tunnel(w, r, x, resp, upgrade, up, ubr)
}

// upgradeExchange writes the upgrade request on its connection and reads the answer's head,
// past any 1xx other than 101.
func upgradeExchange(up net.Conn, ubr *bufio.Reader, r *http.Request) (*http.Response, error) {
	if err := writeUpgradeRequest(up, r); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(ubr, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		return resp, nil
	}
}

// writeUpgradeRequest writes r's head, "Connection: Upgrade" with it, and its body if it has
// one of known length.
func writeUpgradeRequest(up net.Conn, r *http.Request) error {
	b := appendRequestHead(make([]byte, 0, 1024), r)
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength > 0
	if hasBody {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Connection: Upgrade\r\n\r\n"...)
	if _, err := up.Write(b); err != nil {
		return err
	}
	if hasBody {
		_, err := io.CopyN(up, r.Body, r.ContentLength)
		return err
	}
	return nil
}

// tunnel answers the client with the upstream's 101 and relays bytes both ways until both
// sides have closed, the bytes each side sent past its head (already buffered) first.
func (f *forwarder) tunnel(w *h1Writer, r *http.Request, x *exchange, resp *http.Response, upgrade []string, up net.Conn, ubr *bufio.Reader) {
	sc := w.c
	w.hijacked = true // from here the server writes and reads nothing more on this connection
	w.status = http.StatusSwitchingProtocols
	// Counted before the client can see the 101.
	f.stats.upgradesActive.Add(1)
	defer f.stats.upgradesActive.Add(-1)
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	x.responseHeaders(h, r)
	if v := resp.Header["Upgrade"]; len(v) > 0 {
		upgrade = v
	}
	if x.serviceTime != "" {
		h["X-Envoy-Upstream-Service-Time"] = []string{x.serviceTime}
	}
	bw := sc.bw
	bw.WriteString(statusLine(http.StatusSwitchingProtocols))
	hasServer := false
	for k, vv := range h {
		switch {
		case k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection" || k == "Upgrade":
			continue
		case k == "Server":
			if w.server.overwrites() {
				continue // the connection manager's own replaces it, as on any response
			}
			hasServer = true
		}
		writeFields(bw, k, vv)
	}
	w.server.writeTo(bw, hasServer)
	for _, v := range upgrade {
		bw.WriteString("Upgrade: ")
		bw.WriteString(v)
		bw.WriteString("\r\n")
	}
	bw.WriteString("Connection: Upgrade\r\n\r\n")
	if err := bw.Flush(); err != nil {
		up.Close()
		return
	}
	// No watch may read the client's connection while the tunnel does; a byte a watch
	// read is still returned by the connection's reader.
	if sc.watch.disarm() {
		sc.conn.SetReadDeadline(time.Time{})
	}
	var st tcpStats
	relay(&bufferedConn{Conn: sc.conn, r: sc.br}, &bufferedConn{Conn: up, r: ubr}, 0, &st)
}

// bufferedConn reads through r, which holds what was read from Conn past an HTTP head, and
// passes a half-close on to Conn, for relay.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

var errNoHalfClose = errors.New("the connection cannot be half-closed")

func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}
