package proxy

import (
	"net"
	"sync"
)

// On a listener with the tls_inspector, the connections whose chain terminates TLS pass from
// the inspecting accept loop (tcp_proxy.go) to the HTTPS servers, which take them through
// handoffListener as from a socket. The inspector has already read the ClientHello, so each
// comes as a replayConn that returns those bytes first, for the TLS handshake to read again.

// handoffListener is a net.Listener whose connections are handed to it.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// handoff gives c to the servers, or closes it when the listener is closed.
func (l *handoffListener) handoff(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// replayConn reads pending, the bytes already read from the connection, before the rest.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
