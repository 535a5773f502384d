package proxy

import (
	"context"
	"net"
	"sync"
	"time"
)

// The lean server does not read from a client while its request is being answered, so it
// cannot see the client leave the way http.Server's per-request background read does. For
// requests that wait long, it watches instead: watchAfter into a request without a body, one
// goroutine reads the client's socket, and if the client has gone the upstream connection
// that request holds is closed, as Envoy resets the upstream stream when the downstream
// disconnects. Requests answered sooner cost only a timer reset.
const watchAfter = 500 * time.Millisecond

// downstream is what the lean path shares between a client connection and the upstream
// exchange serving it.
type downstream struct {
	mu       sync.Mutex
	upstream net.Conn // the upstream connection of the request in flight, if any
	gone     bool     // the client closed its connection
}

// attach records the upstream connection serving the client's request; false when the
// client has already gone.
func (d *downstream) attach(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gone {
		return false
	}
	d.upstream = c
	return true
}

func (d *downstream) detach(c net.Conn) {
	d.mu.Lock()
	if d.upstream == c {
		d.upstream = nil
	}
	d.mu.Unlock()
}

func (d *downstream) leave() {
	d.mu.Lock()
	d.gone = true
	c := d.upstream
	d.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (d *downstream) isGone() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gone
}

// downstreamOf returns the lean server's record for the request's client, or nil.
func downstreamOf(ctx context.Context) *downstream {
	if ci, _ := ctx.Value(connInfoKey{}).(*connInfo); ci != nil {
		return ci.down
	}
	return nil
}

// clientWatch is one connection's watcher.
type clientWatch struct {
	sc      *h1ServerConn
	timer   *time.Timer
	running chan struct{} // non-nil while a watch goroutine runs; closed when it ends
	mu      sync.Mutex
	off     bool // disarmed: a timer that fires late must not start reading
	pending [1]byte
	hasByte bool
}

func newClientWatch(sc *h1ServerConn) *clientWatch {
	w := &clientWatch{sc: sc}
	w.timer = time.AfterFunc(time.Hour, w.start)
	w.timer.Stop()
	return w
}

// arm starts the countdown for a request whose body is fully read.
func (w *clientWatch) arm() {
	w.mu.Lock()
	w.off = false
	w.mu.Unlock()
	w.timer.Reset(watchAfter)
}

// disarm stops watching once the request is answered; after it returns no goroutine reads
// the connection, and a byte the watch read (a pipelined request) is kept for the next read.
func (w *clientWatch) disarm() {
	if w.timer.Stop() {
		return
	}
	w.mu.Lock()
	w.off = true
	running := w.running
	w.mu.Unlock()
	if running == nil {
		return
	}
	w.sc.conn.SetReadDeadline(aLongTimeAgo)
	<-running
	w.mu.Lock()
	w.running = nil
	w.mu.Unlock()
}

func (w *clientWatch) start() {
	done := make(chan struct{})
	w.mu.Lock()
	if w.off {
		w.mu.Unlock()
		return
	}
	w.running = done
	w.mu.Unlock()
	go func() {
		defer close(done)
		n, err := w.sc.conn.Read(w.pending[:])
		if n == 1 {
			w.hasByte = true // the client sent more: it is still there
			return
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return // disarmed
		}
		w.sc.down.leave()
	}()
}

// takeByte returns a byte the watch read, if any.
func (w *clientWatch) takeByte(p []byte) int {
	if !w.hasByte || len(p) == 0 {
		return 0
	}
	w.hasByte = false
	p[0] = w.pending[0]
	return 1
}
