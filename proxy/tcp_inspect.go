package proxy

import (
	"errors"
	"net"
	"os"
	"time"
)

// Envoy's tls_inspector listener filter: it reads a connection's first bytes until they hold
// the TLS ClientHello (sni.go), so the filter chain can be chosen by SNI, and hands back every
// byte it read, which go upstream first, unchanged, or are replayed to the TLS handshake of a
// chain that terminates TLS (chains_handoff.go).

// maxClientHelloBytes bounds what the inspector buffers: Envoy's inspector stops at 64 KiB
// (newer Envoys default to 16 KiB through max_client_hello_size) and, as Envoy does on
// client_hello_too_large, the connection is then closed rather than routed without SNI.
const maxClientHelloBytes = 64 << 10

// tlsInspector is the listener's tls_inspector with its listener_filters_timeout (0: none)
// and continue_on_listener_filters_timeout.
type tlsInspector struct {
	timeout           time.Duration
	continueOnTimeout bool
}

// inspect reads c until its bytes are a whole ClientHello (sni is its server name, "" if it
// has none), or are not a TLS handshake (no SNI). ok is false when the connection must be
// closed, as Envoy closes it: it ended or failed first, its ClientHello outgrew
// maxClientHelloBytes, or the timeout passed without continueOnTimeout (with it, the
// connection goes on with no SNI). peeked is every byte read. As with Envoy, fewer than a
// TLS record header's five bytes decide nothing: a client that sends less and waits for the
// server waits for the timeout.
func (t *tlsInspector) inspect(c net.Conn, st *listenerStats) (sni string, peeked []byte, ok bool) {
	if t.timeout > 0 {
		c.SetReadDeadline(time.Now().Add(t.timeout))
		defer c.SetReadDeadline(time.Time{})
	}
	buf := make([]byte, 0, 2048)
	need := 1
	for {
		if len(buf) == cap(buf) {
			buf = append(buf[:cap(buf)], make([]byte, min(cap(buf), maxClientHelloBytes-cap(buf)))...)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) >= need {
			var state helloState
			sni, state, need = readClientHello(buf)
			if state != helloNeedMore {
				return sni, buf, true
			}
		}
		if len(buf) >= maxClientHelloBytes {
			return "", nil, false
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				st.tcpListenerFilterTimeouts.Add(1)
				return "", buf, t.continueOnTimeout
			}
			return "", nil, false
		}
	}
}
