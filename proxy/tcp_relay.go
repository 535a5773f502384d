package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay copies bytes both ways until both directions are done. A FIN from one side is passed
// on as a half-close (CloseWrite) and the other direction keeps flowing, as Envoy's tcp_proxy
// does; an error either way closes both. With idle > 0, no byte either way for idle closes
// both.
func relay(down, up net.Conn, idle time.Duration, st *tcpStats) {
	var last atomic.Int64 // unix nanoseconds of the last byte read either way
	last.Store(time.Now().UnixNano())
	var closeOnce sync.Once
	closeBoth := func() {
		closeOnce.Do(func() {
			down.Close()
			up.Close()
		})
	}
	var done atomic.Bool // set when relay returns: a late timer must not count a timeout
	defer done.Store(true)
	if idle > 0 {
		// One timer per connection, re-armed for what is left rather than reset per read, so
		// the copy loops only store a timestamp.
		var t *time.Timer
		var mu sync.Mutex
		var check func()
		check = func() {
			if done.Load() {
				return
			}
			left := idle - time.Duration(time.Now().UnixNano()-last.Load())
			if left <= 0 {
				st.idleTimeouts.Add(1)
				closeBoth()
				return
			}
			mu.Lock()
			t.Reset(left)
			mu.Unlock()
		}
		mu.Lock()
		t = time.AfterFunc(idle, check)
		mu.Unlock()
		defer t.Stop()
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := copyHalf(up, down, &st.rxBytes, &last); err != nil {
			closeBoth()
		}
	})
	if err := copyHalf(down, up, &st.txBytes, &last); err != nil {
		closeBoth()
	}
	wg.Wait()
	closeBoth()
}

// copyHalf copies src to dst until src's EOF, which it passes on as dst's CloseWrite. A nil
// result means this direction ended cleanly.
func copyHalf(dst, src net.Conn, n *atomic.Uint64, last *atomic.Int64) error {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:nr]); werr != nil {
				return werr
			}
			n.Add(uint64(nr))
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return rerr
			}
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err != nil {
					return err
				}
				return nil
			}
			return io.ErrUnexpectedEOF // cannot half-close: end the whole connection
		}
	}
}
