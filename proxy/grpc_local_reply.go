package proxy

import (
	"net/http"
	"strings"
)

// Envoy answers a gRPC request (content-type application/grpc...) that it refuses itself (no
// route, no healthy upstream, a timeout, RBAC, a JWT, a fault's HTTP abort) the way gRPC
// clients expect an answer, not with a bare HTTP status: 200, content-type
// application/grpc, grpc-status from the HTTP status as the gRPC specification maps them, and
// grpc-message the reply's text (Envoy's sendLocalReply for gRPC requests, trailers-only).

// isGRPCRequest is Envoy's Grpc::Common::isGrpcRequestHeaders.
func isGRPCRequest(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	if len(ct) == 0 || !strings.HasPrefix(ct[0], "application/grpc") {
		return false
	}
	rest := ct[0][len("application/grpc"):]
	return rest == "" || rest[0] == '+' || rest[0] == ';'
}

// grpcLocalReply answers r with code and body turned into gRPC's terms when r is a gRPC
// request, and reports whether it did.
func grpcLocalReply(w http.ResponseWriter, r *http.Request, code int, body string) bool {
	if !isGRPCRequest(r) {
		return false
	}
	h := w.Header()
	h["Content-Type"] = grpcContentType
	h["Grpc-Status"] = grpcStatusOf(code)
	if msg := strings.TrimSuffix(body, "\n"); msg != "" {
		h["Grpc-Message"] = []string{grpcPercentEncode(msg)}
	}
	h["Content-Length"] = zeroLength
	delete(h, "X-Content-Type-Options")
	w.WriteHeader(http.StatusOK)
	return true
}

// sendLocalReply answers r from the proxy: in gRPC's terms for a gRPC request, else as reply.
func sendLocalReply(w http.ResponseWriter, r *http.Request, code int, body string) {
	if !grpcLocalReply(w, r, code, body) {
		reply(w, code, body)
	}
}

// grpcStatuses are the gRPC status codes of the HTTP statuses Envoy maps
// (Grpc::Utility::httpToGrpcStatus); any other is UNKNOWN (2).
var grpcStatuses = map[int][]string{
	http.StatusBadRequest:         {"13"}, // INTERNAL
	http.StatusUnauthorized:       {"16"}, // UNAUTHENTICATED
	http.StatusForbidden:          {"7"},  // PERMISSION_DENIED
	http.StatusNotFound:           {"12"}, // UNIMPLEMENTED
	http.StatusTooManyRequests:    {"14"}, // UNAVAILABLE
	http.StatusBadGateway:         {"14"},
	http.StatusServiceUnavailable: {"14"},
	http.StatusGatewayTimeout:     {"14"},
}

func grpcStatusOf(code int) []string {
	if s, ok := grpcStatuses[code]; ok {
		return s
	}
	return []string{"2"}
}

// grpcPercentEncode escapes what grpc-message may not carry as it is: bytes outside printable
// ASCII, and "%" (the gRPC over HTTP/2 specification's Percent-Encoded form).
func grpcPercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			const hexDigits = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
