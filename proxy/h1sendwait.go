package proxy

import (
	"bufio"
	"net"
	"net/http"
)

// Sending a request upstream and then reading its answer the ordinary way costs a read that
// almost always fails: the upstream has had no time to answer (on one core it cannot even run
// until the proxy waits), so the read returns EAGAIN and the goroutine parks for the poller.
// Instead, the request is written from inside a raw read on the connection (sockIO.WriteThenRead):
// the raw read arms the poller first, the callback writes the request and reports "not ready",
// and the goroutine parks straight away; it reads once the poller says the answer is there.
// Arming before the write means the answer's arrival cannot be missed. This is what an event
// loop such as nginx's does: write, return to epoll, read on readiness.

// h1InlineBody is the largest request body sent in the same write as the head; a larger one
// streams through the connection's writer.
const h1InlineBody = 16 << 10

func newH1Conn(t *h1Transport, addr string, conn net.Conn) *h1Conn {
	c := &h1Conn{t: t, addr: addr, conn: conn, io: conn, hdr: make(http.Header, 8), wbuf: make([]byte, 0, 1024)}
	if s := newSockIO(conn); s != nil {
		c.io = s
		c.sock = s
	}
	c.br = bufio.NewReaderSize(upstreamReader{c}, 4096)
	c.bw = bufio.NewWriterSize(c.io, 4096)
	return c
}

// send sends a request: on a socket, by the next read (see upstreamReader), else now.
func (c *h1Conn) send(b []byte) error {
	c.sent = false
	if c.sock != nil {
		c.out = b
		return nil
	}
	n, err := c.io.Write(b)
	c.sent = n > 0
	return err
}

// upstreamReader is what an upstream connection's buffered reader reads from: the first read
// after send writes the pending request and reads the first bytes of its answer.
type upstreamReader struct{ c *h1Conn }

func (r upstreamReader) Read(p []byte) (int, error) {
	c := r.c
	if c.out == nil {
		return c.io.Read(p)
	}
	out := c.out
	c.out = nil
	wrote, n, err := c.sock.WriteThenRead(out, p)
	c.sent = c.sent || wrote > 0
	return n, err
}
