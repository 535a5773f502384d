package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// requestSeeds are heads the fast parser takes and heads it must hand to net/http.
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: svc\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello",
	"GET / HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: svc\r\nx-request-id: abc\r\ncontent-type: text/plain\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nX-A: 1\r\nX-A: 2\r\nx-a: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nConnection: close, te\r\nTE: trailers\r\n\r\n",
	"GET /%7Euser/a%2Fb HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET /a#frag HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET /a? HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET http://other/a HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: svc\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nContent-Length: -1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nFolded: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nBad Name: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\n: empty\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\nHost: svc\n\n",
	"G@T / HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: svc\r\n\r\n",
	"CONNECT svc:443 HTTP/1.1\r\nHost: svc:443\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: svc\r\nX:  spaced \t \r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: svc\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
}

// FuzzParseRequest: whenever the fast request parser answers, net/http's parser (with the
// server's own checks) gives the same request or the same refusal; and nothing panics.
//
//	go test -run '^$' -fuzz FuzzParseRequest -fuzztime 30s ./proxy/
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s)
	}
	// More lines than lineEnds records: the parser finds the rest itself.
	var long strings.Builder
	long.WriteString("GET /long HTTP/1.1\r\nHost: svc\r\n")
	for i := range 40 {
		fmt.Fprintf(&long, "X-Field-%d: v%d\r\n", i, i)
	}
	long.WriteString("\r\n")
	f.Add(long.String())
	f.Fuzz(func(t *testing.T, raw string) {
		raw = terminated(raw)
		var le lineEnds
		end, st := scanHead([]byte(raw), 0, &le)
		if st != headComplete {
			return
		}
		head := raw[:end]
		var got http.Request
		state := h1RequestHead{hdr: http.Header{}}
		ok, err := parseRequestHead(head, &le, &got, &state)
		if !ok {
			return
		}
		want, werr := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if werr == nil {
			werr = checkRequest(want)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: fast parser err %v, net/http err %v", head, err, werr)
		}
		if err != nil {
			return
		}
		compareRequests(t, head, &got, want)
	})
}

// terminated ends raw with a blank line unless it has one, so most inputs reach the parsers
// instead of stopping at scanHead.
func terminated(raw string) string {
	if !strings.Contains(raw, "\r\n\r\n") {
		raw += "\r\n\r\n"
	}
	return raw
}

func compareRequests(t *testing.T, head string, got, want *http.Request) {
	t.Helper()
	type fields struct {
		Method, RequestURI, Proto, Host string
		Major, Minor                    int
		URL                             string
		Path, RawPath, RawQuery         string
		Header                          http.Header
		ContentLength                   int64
		Close                           bool
	}
	of := func(r *http.Request) fields {
		return fields{r.Method, r.RequestURI, r.Proto, r.Host, r.ProtoMajor, r.ProtoMinor, r.URL.String(),
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header, r.ContentLength, r.Close}
	}
	if g, w := of(got), of(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nfast     %+v\nnet/http %+v", head, g, w)
	}
	if (got.ContentLength > 0) != (want.Body != http.NoBody) { // the server gives the body when there is one
		t.Fatalf("%q: body presence differs", head)
	}
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nDate: x\r\n\r\n",
	"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 404 Not Found\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 2000 OK\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 099 OK\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 600 Odd\r\nContent-Length: 1\r\n\r\n",
	"HTTP/2.0 200 OK\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\ngrpc-status: 14\r\ndate: x\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 429 Too Many Requests\r\nX-Envoy-Ratelimited: true\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nX-A:  spaced \r\nContent-Length: 0\r\n\r\n",
}

// FuzzParseResponse: whenever the fast response parser answers, net/http's answers the same.
//
//	go test -run '^$' -fuzz FuzzParseResponse -fuzztime 30s ./proxy/
func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add(s, "GET")
		f.Add(s, "HEAD")
	}
	f.Fuzz(func(t *testing.T, raw, method string) {
		raw = terminated(raw)
		var le lineEnds
		end, st := scanHead([]byte(raw), 0, &le)
		if st != headComplete {
			return
		}
		head := raw[:end]
		h := http.Header{}
		var vals []string
		var got h1ResponseHead
		if !parseResponseHead(head, &le, method, h, &vals, &got) {
			return
		}
		want, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%q: the fast parser took a response net/http refuses: %v", head, err)
		}
		proto := "HTTP/1.1"
		if got.minor == 0 {
			proto = "HTTP/1.0"
		}
		if got.status != want.StatusCode || got.statusText != want.Status || proto != want.Proto || got.minor != want.ProtoMinor ||
			got.contentLength != want.ContentLength || got.close != want.Close || !reflect.DeepEqual(h, want.Header) ||
			want.TransferEncoding != nil || want.Trailer != nil {
			t.Fatalf("%q:\nfast     %+v %v\nnet/http %d %q %s cl=%d close=%v %v", head, got, h,
				want.StatusCode, want.Status, want.Proto, want.ContentLength, want.Close, want.Header)
		}
		checkRelayedParse(t, head, method, got, want.Header)
	})
}

// checkRelayedParse parses head again asking for a relayed head (h1relay.go), which the
// ordinary parse took with the fields want: the relay parse must agree on the message, and
// either keep the head (no hop-by-hop field; the lines, read by net/http, give want; the map
// holds only relayedFields) or fill the whole map as the ordinary parse does.
func checkRelayedParse(t *testing.T, head, method string, plain h1ResponseHead, want http.Header) {
	t.Helper()
	h := http.Header{}
	var vals []string
	var kept relayedHead
	got := h1ResponseHead{relay: &kept}
	if !parseResponseHead(head, nil, method, h, &vals, &got) { // line ends found again
		t.Fatalf("%q: the relay parse refused what the ordinary parse took", head)
	}
	got.relay = nil
	if got != plain {
		t.Fatalf("%q: relay parse %+v, ordinary %+v", head, got, plain)
	}
	if !kept.ok {
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("%q: relay parse fell back to header %v, want %v", head, h, want)
		}
		return
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Upgrade", "Te"} {
		if _, ok := want[k]; ok {
			t.Fatalf("%q: kept for relaying with hop-by-hop field %s", head, k)
		}
	}
	if _, ok := want["Date"]; ok != kept.date {
		t.Fatalf("%q: date %v, net/http saw Date %v", head, kept.date, ok)
	}
	again, err := http.ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n"+kept.fields+"\r\n")), &http.Request{Method: method})
	if err != nil || !reflect.DeepEqual(again.Header, want) {
		t.Fatalf("%q: relayed fields %q read back as %v (%v), want %v", head, kept.fields, again.Header, err, want)
	}
	for k, v := range want {
		if relayedFields(k) != reflect.DeepEqual(h[k], v) {
			t.Fatalf("%q: relay map %v for %s, net/http %v", head, h[k], k, v)
		}
	}
	if len(h) > 2 {
		t.Fatalf("%q: relay map holds %v", head, h)
	}
}

// TestScanHead: where heads end, and what is left to net/http.
func TestScanHead(t *testing.T) {
	for _, tc := range []struct {
		in   string
		end  int
		scan headScan
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT", 27, headComplete},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 25, headIncomplete},
		{"GET / HTTP/1.1\r\nHo", 16, headIncomplete},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", 0, headUnusual},
		{"GET / HTTP/1.1\r\n folded\r\n\r\n", 0, headUnusual},
		{"\r\nGET / HTTP/1.1\r\n\r\n", 0, headUnusual},
		{"", 0, headIncomplete},
	} {
		end, st := scanHead([]byte(tc.in), 0, nil)
		if end != tc.end || st != tc.scan {
			t.Errorf("scanHead(%q) = %d, %d; want %d, %d", tc.in, end, st, tc.end, tc.scan)
		}
	}
	// Resuming where an incomplete scan stopped finds the same end.
	in := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n")
	from, _ := scanHead(in[:20], 0, nil)
	if end, st := scanHead(in, from, nil); end != len(in) || st != headComplete {
		t.Errorf("resumed scan: %d, %d", end, st)
	}
}

// TestLeanServerParsesLikeNetHTTP sends every request seed to the proxy and, for the same
// bytes, to a net/http server: the proxy's status class must match net/http's, and what the
// backend receives through the proxy must be what a net/http server would parse.
func TestLeanServerParsesLikeNetHTTP(t *testing.T) {
	seen := make(chan *http.Request, 1)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case seen <- r:
		default:
		}
		w.Header().Set("X-Got-Path", r.URL.RawPath+"|"+r.URL.Path+"|"+r.URL.RawQuery)
		w.Write(body)
	}))
	t.Cleanup(echo.Close)
	ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Path", r.URL.RawPath+"|"+r.URL.Path+"|"+r.URL.RawQuery)
		io.Copy(w, r.Body)
	}))
	t.Cleanup(ref.Close)
	_, _, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"e": {echo}},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "e")))})
	status := func(s string) string {
		if len(s) < 12 {
			return "none"
		}
		return s[9:12]
	}
	refused := func(code string) bool { return code == "400" || code == "431" }
	for _, raw := range requestSeeds {
		if raw == "GET / HTTP/1.1\r\nHost:\r\n\r\n" {
			continue // the proxy has always refused an empty Host, which http.Server lets through
		}
		// One request per connection, so net/http's answer and the proxy's are comparable.
		req := raw
		if !strings.Contains(req, "Connection:") {
			req = strings.Replace(req, "\r\n", "\r\nConnection: close\r\n", 1)
		}
		// Both answer within milliseconds; the wait only bounds a kept-alive connection.
		got := rawExchange2(t, addr, req, 300*time.Millisecond)
		want := rawExchange2(t, ref.Listener.Addr().String(), req, 300*time.Millisecond)
		// The proxy may answer 404 (no route for "*") where net/http's handler answers 200;
		// what must agree is which requests are refused as malformed.
		gs, ws := status(got), status(want)
		if refused(gs) != refused(ws) {
			t.Errorf("%q:\nproxy    %.60q\nnet/http %.60q", raw, got, want)
			continue
		}
		if gs == "200" && ws == "200" && !strings.Contains(raw, "#") { // the proxy escapes '#' upstream
			if g, w := headerLine(got, "X-Got-Path"), headerLine(want, "X-Got-Path"); g != w {
				t.Errorf("%q: backend saw path %q through the proxy, net/http parses %q", raw, g, w)
			}
		}
	}
}

func headerLine(resp, name string) string {
	for line := range strings.SplitSeq(resp, "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
