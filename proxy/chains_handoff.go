package proxy

import "net"

// On a listener with the tls_inspector, the connections whose chain terminates TLS pass from
// the inspecting accept loop (tcp_proxy.go) to the HTTPS servers, which take them through a
// handoffListener (handoff_listener.go) as from a socket. The inspector has already read the
// ClientHello, so each comes as a replayConn that returns those bytes first, for the TLS
// handshake to read again.

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
