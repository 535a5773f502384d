package publisher

import "time"

// The NACK hold.
//
// A state-of-the-world stream (sotw.go) answers a request whose version differs from the
// version serving. A NACK carries the version the proxy still runs (the one before the
// rejected push), so answered as it stands it would get the same snapshot at once: the proxy
// rejects it again, and the two loop (thousands of round trips a second per proxy), as they
// do with go-control-plane's stream server.
//
// The stream calls OnStreamRequest with the very request it then acts on, so the callback
// rewrites a NACK's version_info to the version that was rejected, looked up by its
// response_nonce. The stream then sees the proxy "at" the version serving, holding what it was
// sent, and waits for a snapshot with a different version of that type. The hold is per
// stream: a proxy that reconnects is sent the current snapshot once more, and NACKs it once
// more.
//
// Delta xDS needs no hold: a delta stream (delta.go) counts what it sent as held and sends
// only changes, so a NACK alone produces no response.

// recordNACKLocked notes a NACK of the response with this nonce on stream st and returns the
// rejected per-type version, to hold. A NACK of a response that is no longer the stream's last
// one for its type is ignored, as the stream server ignores it.
func (p *Publisher) recordNACKLocked(st *stream, n *node, typeURL, nonce, message string) (string, bool) {
	s, ok := st.sent[typeURL]
	if !ok || s.nonce != nonce {
		return "", false
	}
	n.nacks[typeURL] = nack{version: s.version, message: message, at: time.Now()}
	p.counters.nacks++
	defer p.checkRoleRejectedLocked(n.role)
	p.metrics.nacks.WithLabelValues(typeLabel(typeURL)).Inc()
	p.log.Warn("proxy rejected configuration", "node", st.node, "type", typeURL,
		"version", p.hist.typeVersionTree(n, typeURL, s.version), "type_version", s.version, "error", message)
	return s.version, true
}
