package proxy

import (
	"bufio"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The headers Envoy's HTTP connection manager and router set on every request and response,
// whatever the routes say (ConnectionManagerUtility::mutateRequestHeaders and
// mutateResponseHeaders, the router's upstream and timeout headers).
//
// No request counts as internal: signalbox never sets internal_address_config, and since
// Envoy 1.36 an unset one trusts no address (the RFC 1918 default is gone). So every listener
// strips the x-envoy-* fields that steer the router, and a listener with use_remote_address (a
// gateway) treats every request as an edge request: it also strips the fields that name the
// downstream, records the client in x-envoy-external-address and replaces the client's
// x-request-id unless preserve_external_request_id is set.

// connManagerHeaders is what a listener's connection manager and router are told about these
// headers. Its zero value is Envoy's default for each field.
type connManagerHeaders struct {
	server serverHeader
	// preserveExternalRequestID keeps an edge request's own x-request-id.
	preserveExternalRequestID bool
	xfcc                      xfccConfig
	// suppressEnvoyHeaders is the router's suppress_envoy_headers: no
	// x-envoy-upstream-service-time on responses, no x-envoy-expected-rq-timeout-ms upstream.
	suppressEnvoyHeaders bool
}

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
	switch t {
	case hcmv3.HttpConnectionManager_PASS_THROUGH:
		return serverHeader{}
	case hcmv3.HttpConnectionManager_APPEND_IF_ABSENT:
		return serverHeader{line: "Server: " + name + "\r\n", vals: []string{name}, ifAbsent: true}
	}
	return serverHeader{line: "Server: " + name + "\r\n", vals: []string{name}}
}

// xfccConfig is forward_client_cert_details with set_current_client_cert_details.
type xfccConfig struct {
	mode                               hcmv3.HttpConnectionManager_ForwardClientCertDetails
	subject, cert, chain, uri, dnsSans bool
}

// decodeConnManagerHeaders reads the connection manager's fields on these headers.
func decodeConnManagerHeaders(p fieldPath, m *hcmv3.HttpConnectionManager) (connManagerHeaders, error) {
	var h connManagerHeaders
	if err := checkServerHeaderTransformation(p, m.GetServerHeaderTransformation()); err != nil {
		return h, err
	}
	h.server = newServerHeader(m.GetServerName(), m.GetServerHeaderTransformation())
	h.preserveExternalRequestID = m.GetPreserveExternalRequestId()
	h.xfcc.mode = m.GetForwardClientCertDetails()
	if d := m.GetSetCurrentClientCertDetails(); d != nil {
		dp := p.field("set_current_client_cert_details")
		if err := onlyFields(dp, d, "subject", "cert", "chain", "dns", "uri"); err != nil {
			return h, err
		}
		h.xfcc.subject, h.xfcc.cert, h.xfcc.chain = d.GetSubject().GetValue(), d.GetCert(), d.GetChain()
		h.xfcc.uri, h.xfcc.dnsSans = d.GetUri(), d.GetDns()
	}
	return h, nil
}

// The fields cleanInternalHeaders removes from requests that are not internal (all of them
// here), and those it also removes from edge requests.
var (
	envoyInternalOnly = map[string]bool{
		"X-Envoy-Internal":                         true, // set only on internal requests, which none is
		"X-Envoy-Retriable-Status-Codes":           true,
		"X-Envoy-Retriable-Header-Names":           true,
		"X-Envoy-Retry-On":                         true,
		"X-Envoy-Retry-Grpc-On":                    true,
		"X-Envoy-Max-Retries":                      true,
		"X-Envoy-Upstream-Alt-Stat-Name":           true,
		"X-Envoy-Upstream-Rq-Timeout-Ms":           true,
		"X-Envoy-Upstream-Rq-Per-Try-Timeout-Ms":   true,
		"X-Envoy-Upstream-Rq-Timeout-Alt-Response": true,
		"X-Envoy-Expected-Rq-Timeout-Ms":           true,
		"X-Envoy-Force-Trace":                      true,
		"X-Envoy-Ip-Tags":                          true,
		"X-Envoy-Original-Url":                     true,
		"X-Envoy-Hedge-On-Per-Try-Timeout":         true,
	}
	envoyEdgeOnly = map[string]bool{
		"X-Envoy-Decorator-Operation":        true,
		"X-Envoy-Downstream-Service-Cluster": true,
		"X-Envoy-Downstream-Service-Node":    true,
	}
)

const xfccKey = "X-Forwarded-Client-Cert"

// cleanRequestHeaders removes what a client may not send through this listener: the router's
// x-envoy-* controls (and at the edge the downstream's names), and x-forwarded-client-cert
// unless the listener forwards it. It reports whether the request carried
// x-forwarded-client-cert and kept it. One pass over the fields the client sent; a request
// with none (most of a load generator's) costs a length check.
func cleanRequestHeaders(h http.Header, edge bool, xfcc hcmv3.HttpConnectionManager_ForwardClientCertDetails) (keptXFCC bool) {
	if len(h) == 0 {
		return false
	}
	for k := range h {
		switch {
		case len(k) > 8 && k[:8] == "X-Envoy-":
			if envoyInternalOnly[k] || edge && envoyEdgeOnly[k] {
				delete(h, k)
			}
		case k == xfccKey:
			if xfcc == hcmv3.HttpConnectionManager_SANITIZE {
				delete(h, k)
			} else {
				keptXFCC = true
			}
		}
	}
	return keptXFCC
}

// setClientCert applies forward_client_cert_details to a request that kept its
// x-forwarded-client-cert past cleanRequestHeaders (any mode but SANITIZE) or may get one
// (APPEND_FORWARD, SANITIZE_SET), as Envoy's mutateXfccRequestHeader does: only
// ALWAYS_FORWARD_ONLY keeps the field of a connection without a client certificate; with
// one, FORWARD_ONLY keeps it as sent, APPEND_FORWARD appends this hop's element and
// SANITIZE_SET replaces it with that element.
func setClientCert(w http.ResponseWriter, r *http.Request, c xfccConfig, had bool) {
	switch c.mode {
	case hcmv3.HttpConnectionManager_SANITIZE, hcmv3.HttpConnectionManager_ALWAYS_FORWARD_ONLY:
		return
	}
	var peer []*x509.Certificate
	if r.TLS != nil {
		if cs := tlsStateOf(requestConn(w, r), r); cs != nil {
			peer = cs.PeerCertificates
		}
	}
	if len(peer) == 0 {
		if had {
			delete(r.Header, xfccKey)
		}
		return
	}
	switch c.mode {
	case hcmv3.HttpConnectionManager_APPEND_FORWARD:
		if prior := r.Header[xfccKey]; len(prior) > 0 {
			r.Header[xfccKey] = []string{strings.Join(prior, ",") + "," + connClientCertElement(w, r, peer, c)}
			return
		}
		r.Header[xfccKey] = []string{connClientCertElement(w, r, peer, c)}
	case hcmv3.HttpConnectionManager_SANITIZE_SET:
		r.Header[xfccKey] = []string{connClientCertElement(w, r, peer, c)}
	}
}

// xfccElement is a connection's x-forwarded-client-cert element, made for its first request:
// the client's certificate does not change within a connection, and hashing and encoding it
// costs microseconds.
type xfccElement struct {
	leaf    *x509.Certificate
	cfg     xfccConfig
	element string
}

// connClientCertElement is clientCertElement, kept with the request's connection (the lean
// server's, or the one net/http's server serves, whose HTTP/2 streams share it).
func connClientCertElement(w http.ResponseWriter, r *http.Request, peer []*x509.Certificate, c xfccConfig) string {
	var slot *atomic.Pointer[xfccElement]
	if hw, ok := w.(*h1Writer); ok && hw.c != nil {
		slot = &hw.c.xfcc
	} else if ci, _ := r.Context().Value(connInfoKey{}).(*connInfo); ci != nil {
		slot = &ci.xfcc
	}
	if slot != nil {
		if e := slot.Load(); e != nil && e.leaf == peer[0] && e.cfg == c {
			return e.element
		}
	}
	element := clientCertElement(peer, c)
	if slot != nil {
		slot.Store(&xfccElement{leaf: peer[0], cfg: c, element: element})
	}
	return element
}

// clientCertElement is this hop's x-forwarded-client-cert element for the client's chain, in
// Envoy's order: Hash (SHA-256 of the certificate, hex), then Cert, Chain, Subject, URI and
// DNS as set_current_client_cert_details asks. Envoy also leads with By= (its own
// certificate's URI SANs); the certificates gateways serve carry none, so it is left out.
func clientCertElement(chain []*x509.Certificate, c xfccConfig) string {
	leaf := chain[0]
	sum := sha256.Sum256(leaf.Raw)
	parts := []string{"Hash=" + hex.EncodeToString(sum[:])}
	if c.cert {
		parts = append(parts, `Cert="`+pemURLEncoded(leaf)+`"`)
	}
	if c.chain {
		var b strings.Builder
		for _, cert := range chain {
			b.WriteString(pemURLEncoded(cert))
		}
		parts = append(parts, `Chain="`+b.String()+`"`)
	}
	if c.subject {
		parts = append(parts, `Subject="`+leaf.Subject.String()+`"`)
	}
	if c.uri {
		if len(leaf.URIs) == 0 {
			parts = append(parts, "URI=")
		}
		for _, u := range leaf.URIs {
			parts = append(parts, "URI="+u.String())
		}
	}
	if c.dnsSans {
		for _, d := range leaf.DNSNames {
			parts = append(parts, "DNS="+d)
		}
	}
	return strings.Join(parts, ";")
}

// pemURLEncoded is the certificate's PEM with the characters Envoy escapes in it
// (newline, space, +, / and =) percent-encoded.
func pemURLEncoded(cert *x509.Certificate) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return pemEscapes.Replace(string(p))
}

var pemEscapes = strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D")

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
