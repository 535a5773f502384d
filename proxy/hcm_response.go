package proxy

import (
	"bufio"
	"net/http"
	"strconv"
	"sync"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The fields the connection manager and the router add to every response and upstream
// request: Server, x-envoy-upstream-service-time, x-envoy-expected-rq-timeout-ms,
// x-envoy-attempt-count.

// serverHeader is server_name with server_header_transformation.
type serverHeader struct {
	line     string   // "Server: NAME\r\n"; "" for PASS_THROUGH
	vals     []string // NAME, for responses written from the header map
	ifAbsent bool     // APPEND_IF_ABSENT: an upstream's own Server stays
}

// overwrites reports whether the connection manager's Server replaces a response's own.
func (s *serverHeader) overwrites() bool { return s != nil && s.line != "" && !s.ifAbsent }

// writeTo writes the connection manager's Server line, unless there is none or the response
// keeps its own (APPEND_IF_ABSENT and hasServer).
func (s *serverHeader) writeTo(bw *bufio.Writer, hasServer bool) {
	if s != nil && s.line != "" && !(s.ifAbsent && hasServer) {
		bw.WriteString(s.line)
	}
}

// envoyServer is Envoy's default: server_name "envoy", OVERWRITE.
var envoyServer = newServerHeader("", hcmv3.HttpConnectionManager_OVERWRITE)

func newServerHeader(name string, t hcmv3.HttpConnectionManager_ServerHeaderTransformation) serverHeader {
	if name == "" {
		name = "envoy"
	}
	if t == hcmv3.HttpConnectionManager_PASS_THROUGH {
		return serverHeader{}
	}
	return serverHeader{line: "Server: " + name + "\r\n", vals: []string{name}, ifAbsent: t == hcmv3.HttpConnectionManager_APPEND_IF_ABSENT}
}

// upstreamServiceTime is x-envoy-upstream-service-time: whole milliseconds from forwarding
// the request to the upstream's response head.
func upstreamServiceTime(elapsed time.Duration) string {
	return strconv.FormatInt(int64(elapsed/time.Millisecond), 10)
}

// setExpectedTimeout sets x-envoy-expected-rq-timeout-ms on an attempt of a request on rt,
// as Envoy's router does (setTimeoutHeaders, in whole milliseconds): the per-try timeout,
// else the route's, capped by what is left of the route's after elapsed (at least 1); none
// when neither is set. routeTimeout and retry are the request's (a gRPC request's timeout,
// no retries for a body that cannot be replayed); a first attempt with the route's own takes
// the value made with the route.
func setExpectedTimeout(h http.Header, rt *route, routeTimeout time.Duration, retry *retryPolicy, elapsed time.Duration) {
	if elapsed < time.Millisecond && routeTimeout == rt.timeout && retry == rt.retry {
		if rt.expectedTimeout != nil {
			h["X-Envoy-Expected-Rq-Timeout-Ms"] = rt.expectedTimeout
		}
		return
	}
	if ms := expectedTimeoutMs(routeTimeout, retry, elapsed); ms > 0 {
		h["X-Envoy-Expected-Rq-Timeout-Ms"] = []string{strconv.FormatInt(ms, 10)}
	}
}

// expectedTimeoutValue is the x-envoy-expected-rq-timeout-ms of a route's first attempts.
// Routes share one value per timeout: a table of 50,000 routes has a handful of timeouts.
func expectedTimeoutValue(routeTimeout time.Duration, retry *retryPolicy) []string {
	ms := expectedTimeoutMs(routeTimeout, retry, 0)
	if ms <= 0 {
		return nil
	}
	if v, ok := expectedTimeoutValues.Load(ms); ok {
		return v.([]string)
	}
	v, _ := expectedTimeoutValues.LoadOrStore(ms, []string{strconv.FormatInt(ms, 10)})
	return v.([]string)
}

// expectedTimeoutValues maps milliseconds to a shared header value; header values are never
// written to once in a map, so routes and requests may share them.
var expectedTimeoutValues sync.Map

func expectedTimeoutMs(routeTimeout time.Duration, retry *retryPolicy, elapsed time.Duration) int64 {
	var expected int64
	if retry != nil {
		expected = retry.perTryTimeout.Milliseconds()
	}
	global := routeTimeout.Milliseconds()
	if expected == 0 {
		expected = global
	}
	if expected <= 0 {
		return 0
	}
	if global > 0 {
		spent := elapsed.Milliseconds()
		if spent >= global {
			return 1 // out of time: 1 ms is the least the field can say
		}
		expected = min(expected, global-spent)
	}
	return expected
}

// withServerHeader has w write the listener's Server field on every response. The lean
// server's writer carries it; any other (HTTP/2) is wrapped.
func withServerHeader(w http.ResponseWriter, s *serverHeader) http.ResponseWriter {
	if hw, ok := w.(*h1Writer); ok {
		hw.server = s
		return w
	}
	if s.line == "" {
		return w
	}
	return &serverHeaderWriter{ResponseWriter: w, s: s}
}

// serverHeaderWriter sets the Server field when the head is written.
type serverHeaderWriter struct {
	http.ResponseWriter
	s     *serverHeader
	wrote bool
}

func (w *serverHeaderWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		h := w.ResponseWriter.Header()
		if _, has := h["Server"]; !has || !w.s.ifAbsent {
			h["Server"] = w.s.vals
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *serverHeaderWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *serverHeaderWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's own writer.
func (w *serverHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkServerHeaderTransformation refuses transformations this proxy does not know.
func checkServerHeaderTransformation(p fieldPath, t hcmv3.HttpConnectionManager_ServerHeaderTransformation) error {
	switch t {
	case hcmv3.HttpConnectionManager_OVERWRITE, hcmv3.HttpConnectionManager_APPEND_IF_ABSENT, hcmv3.HttpConnectionManager_PASS_THROUGH:
		return nil
	}
	return p.field("server_header_transformation").errorf("%s is not supported", t)
}

// attemptCounts are the x-envoy-attempt-count values of the first attempts, shared: Istio
// has every virtual host send the field, so every forwarded request carries one.
var attemptCounts = func() (t [8][]string) {
	for i := range t {
		t[i] = []string{strconv.Itoa(i + 1)}
	}
	return t
}()

// attemptCountValue is the x-envoy-attempt-count value of attempt (from 1).
func attemptCountValue(attempt int) []string {
	if attempt >= 1 && attempt <= len(attemptCounts) {
		return attemptCounts[attempt-1]
	}
	return []string{strconv.Itoa(attempt)}
}
