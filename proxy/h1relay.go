package proxy

import (
	"net/http"
)

// Relaying a response head as it came. Most responses pass the proxy unchanged: no header
// operation, CORS or cookie applies to them and they carry no hop-by-hop field. For those the
// lean transport does not build a header map and the lean server does not walk one: the
// upstream's header lines are written out behind the proxy's own status line, with a Date
// when the upstream sent none and the client connection's own Connection field, as
// writeHead would have written them (field names keep the upstream's spelling, which HTTP
// leaves free). Anything else takes the header-map path.

// relayedHead is a response head kept for relaying.
type relayedHead struct {
	ok     bool
	fields string // the header lines, each ending in CRLF, without the status line and blank line
	date   bool   // fields has a Date
}

// relayedFields are the response fields retry policies read (retry.go), kept in the header
// map of a relayed head.
func relayedFields(key string) bool {
	return key == "Grpc-Status" || key == "X-Envoy-Ratelimited"
}

// relaysHead reports whether the response to x can be relayed as it comes: w is the lean
// server's, nothing will change the response's fields, and no retry reads fields other than
// relayedFields.
func (x *exchange) relaysHead(w http.ResponseWriter, retry *retryPolicy) bool {
	if _, ok := w.(*h1Writer); !ok || x.cors != nil || x.setCookie != "" {
		return false
	}
	if retry != nil && retry.on&retryRetriableHeaders != 0 && len(retry.headers) > 0 {
		return false
	}
	return (x.tg == nil || x.tg.respHdr.empty()) && x.lr.r.respHdr.empty() && x.lr.vh.respHdr.empty() && x.lr.rc.respHdr.empty()
}

// relayHead writes a relayed head for a response of code with a body of clen bytes (never
// chunked: the parser keeps only heads with a Content-Length), with the router's
// x-envoy-upstream-service-time when serviceTime is not "" (hcm_response.go). A relayed head
// has neither a Server nor that field of its own (the parser leaves such heads to the map).
func (w *h1Writer) relayHead(code int, h *relayedHead, clen int64, serviceTime string) {
	w.status, w.clen, w.wroteHdr = code, clen, true
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	bw := w.c.bw
	bw.WriteString(statusLine(code))
	bw.WriteString(h.fields)
	if serviceTime != "" {
		bw.WriteString("X-Envoy-Upstream-Service-Time: ")
		bw.WriteString(serviceTime)
		bw.WriteString("\r\n")
	}
	w.endHead(h.date, false)
}
