package proxy

import (
	"errors"
	"os"
	"time"
)

// The tls_inspector's listener_filters_timeout on an HTTPS listener with SNI-chosen chains:
// Go's TLS server reads the ClientHello itself, so the timeout is kept on the connection
// beneath it (chainConn) until the handshake has chosen a chain, as Envoy's inspector keeps
// it until it has read the ClientHello.

func (c *chainConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wanted = t
	if c.inspector != nil && (t.IsZero() || t.After(c.inspectUntil)) {
		t = c.inspectUntil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *chainConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// Read counts a ClientHello that outlasts listener_filters_timeout, and fails it (the
// connection is closed) or, with continue_on_listener_filters_timeout, goes on reading it
// for the chain of connections without SNI, as Envoy does.
func (c *chainConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.mu.Lock()
		timedOut := c.inspector != nil && !time.Now().Before(c.inspectUntil)
		if !timedOut {
			c.mu.Unlock()
			return n, err
		}
		c.stats.tcpListenerFilterTimeouts.Add(1)
		cont := c.inspector.continueOnTimeout
		c.inspector = nil
		if cont {
			c.noSNI = true
			c.Conn.SetReadDeadline(c.wanted)
		}
		c.mu.Unlock()
		if !cont || n > 0 {
			return n, err
		}
	}
}

// endInspection ends the inspector's timeout when the ClientHello has been read, restoring
// the server's read deadline, and reports whether the connection goes on without SNI.
func (c *chainConn) endInspection() (noSNI bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inspector != nil {
		c.inspector = nil
		c.Conn.SetReadDeadline(c.wanted)
	}
	return c.noSNI
}
