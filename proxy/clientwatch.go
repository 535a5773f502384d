package proxy

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The lean server does not read from a client while its request is being answered, so it
// cannot see the client leave the way http.Server's per-request background read does. For
// requests that wait long, it watches instead: once a request without a body has waited
// watchAfter, one goroutine reads the client's socket, and if the client has gone the
// upstream connection that request holds is closed, as Envoy resets the upstream stream when
// the downstream disconnects. The server's idle sweep starts watches, so a request answered
// sooner costs two uncontended locks and a clock read, not a timer reset and stop (paired
// runs under wrk -c32: about 1% of the proxy's CPU).
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
	sc *h1ServerConn
	mu sync.Mutex
	// armedAt is the sweep clock's unix nanoseconds when the request began waiting; 0: none
	// waits, or its watch started. Only starting a watch takes mu: a request that is answered
	// before its watch starts pays one atomic store and one swap.
	armedAt atomic.Int64
	running chan struct{} // under mu: non-nil while a watch goroutine runs; closed when it ends
	pending [1]byte
	hasByte bool
}

func newClientWatch(sc *h1ServerConn) *clientWatch {
	return &clientWatch{sc: sc}
}

// arm marks the connection's request, whose body is fully read, as waiting from now: the
// sweep's clock, up to sweepEvery behind, so the watch starts after watchAfter give or take
// sweepEvery, and a request reads no clock for it.
func (w *clientWatch) arm() {
	w.armedAt.Store(w.sc.s.clock.Load())
}

// disarm stops watching once the request is answered; after it returns no goroutine reads
// the connection, and a byte the watch read (a pipelined request) is kept for the next read.
// stopped reports that a watch was stopped with a read deadline in the past, which the caller
// clears.
func (w *clientWatch) disarm() (stopped bool) {
	if w.armedAt.Swap(0) != 0 {
		return false // due never took it, and now cannot
	}
	// due took it (armedAt is set for every watched request), and set running before
	// releasing mu.
	w.mu.Lock()
	running := w.running
	w.mu.Unlock()
	if running == nil {
		return false
	}
	w.sc.conn.SetReadDeadline(aLongTimeAgo)
	<-running
	w.mu.Lock()
	w.running = nil
	w.mu.Unlock()
	return true
}

// due starts the watch if the request has waited watchAfter by now; the sweep calls it.
func (w *clientWatch) due(now int64) {
	at := w.armedAt.Load()
	if at == 0 || now-at < int64(watchAfter) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running != nil || !w.armedAt.CompareAndSwap(at, 0) {
		return // disarmed meanwhile, or the request after it armed
	}
	done := make(chan struct{})
	w.running = done
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
