package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// Sending a request upstream and then reading its answer the ordinary way costs a read that
// almost always fails: the upstream has had no time to answer (on one core it cannot even run
// until the proxy waits), so the read returns EAGAIN and the goroutine parks for the poller.
// Instead, the request is written from inside a raw read on the connection: the raw read arms
// the poller first, the callback writes the request and reports "not ready", and the goroutine
// parks straight away; it reads once the poller says the answer is there. Arming before the
// write means the answer's arrival cannot be missed. This is what an event loop such as
// nginx's does: write, return to epoll, read on readiness.

// h1InlineBody is the largest request body sent in the same write as the head; a larger one
// streams through the connection's writer.
const h1InlineBody = 16 << 10

func newH1Conn(t *h1Transport, addr string, conn net.Conn) *h1Conn {
	c := &h1Conn{t: t, addr: addr, conn: conn, io: conn, hdr: make(http.Header, 8), wbuf: make([]byte, 0, 1024)}
	if s := newSockIO(conn); s != nil {
		c.io = s
		c.rc = s.rc
		c.step = c.rawStep
	}
	c.br = bufio.NewReaderSize(upstreamReader{c}, 4096)
	c.bw = bufio.NewWriterSize(c.io, 4096)
	return c
}

// send sends a request: on a socket, by the next read (see sendAndRead), else now.
func (c *h1Conn) send(b []byte) error {
	c.sent = false
	if c.rc != nil {
		c.out = b
		return nil
	}
	n, err := c.io.Write(b)
	c.sent = n > 0
	return err
}

// upstreamReader is what an upstream connection's buffered reader reads from.
type upstreamReader struct{ c *h1Conn }

func (r upstreamReader) Read(p []byte) (int, error) {
	if r.c.out == nil {
		return r.c.io.Read(p)
	}
	return r.c.sendAndRead(p)
}

// sendAndRead writes the pending request and reads the first bytes of its answer into p,
// without a read before the poller reports the answer.
func (c *h1Conn) sendAndRead(p []byte) (int, error) {
	st := &c.raw
	*st = rawSendRead{p: p, sending: true}
	err := c.rc.Read(c.step)
	n, werr, rerr := st.n, st.werr, st.rerr
	st.p = nil
	out := c.out
	c.out = nil
	switch {
	case err != nil:
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // the raw read's wrapping: report it as a read's
		}
		return 0, c.opError("read", err)
	case werr != nil:
		return 0, c.opError("write", os.NewSyscallError("write", werr))
	case len(out) > 0:
		// The socket's send buffer was full: finish the request, then read as usual.
		if m, err := c.io.Write(out); err != nil {
			c.sent = c.sent || m > 0
			return 0, err
		}
		c.sent = true
		return c.io.Read(p)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawSendRead is sendAndRead's state, kept in the connection so that neither it nor the
// callback (c.step, bound once per connection) is allocated per request.
type rawSendRead struct {
	p          []byte
	n          int
	werr, rerr error
	sending    bool
}

// rawStep is the raw read's callback: first it writes c.out and reports "not ready", so the
// poller waits for the answer; then it reads into raw.p until a read returns data or an error.
func (c *h1Conn) rawStep(fd uintptr) bool {
	st := &c.raw
	if st.sending {
		for len(c.out) > 0 {
			m, e := sysWrite(fd, c.out)
			if m > 0 {
				c.out = c.out[m:]
				c.sent = true
			}
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				if e != syscall.EAGAIN {
					st.werr = e
				}
				return true // the rest is written by sendAndRead, where the poller waits for room
			}
		}
		st.sending = false
		return false // wait for the answer before the first read
	}
	for {
		m, e := sysRead(fd, st.p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			st.n = m
		default:
			st.rerr = e
		}
		return true
	}
}

// opError wraps err as net.Conn's Read and Write report theirs.
func (c *h1Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(), Err: err}
}
