package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// acceptHTTP10 has a connection manager accept HTTP/1.0, which Envoy refuses by default.
func acceptHTTP10(m *hcmv3.HttpConnectionManager) {
	m.HttpProtocolOptions = &core.Http1ProtocolOptions{AcceptHttp_10: true}
}

// rawExchange sends raw bytes to addr and returns everything the proxy answered until it
// closed the connection (or a second passed).
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestLeanServerHTTP1: the HTTP/1.x server the listeners run behaves as net/http's would.
func TestLeanServerHTTP1(t *testing.T) {
	trailers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Backend", "chunky")
		io.WriteString(w, "part1,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2")
		w.Header().Set("X-Checksum", "abc")
	}))
	t.Cleanup(trailers.Close)
	b := backend(t, "b")
	http10 := hcmOf(httpListener("http10", "127.0.0.1", 15002, "r"), func(m *hcmv3.HttpConnectionManager) {
		acceptHTTP10(m)
		m.HttpProtocolOptions.DefaultHostForHttp_10 = "svc"
	})
	_, p, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}, "chunky": {trailers}},
		routes:    routeConfiguration("r", vhost("v", []string{"svc"}, prefixRoute("/chunky", "chunky"), prefixRoute("/", "b"))),
		listeners: []types.Resource{http10}})

	// Pipelined keep-alive requests are answered in order on one connection.
	got := rawExchange(t, addr, "GET /one HTTP/1.1\r\nHost: svc\r\n\r\nGET /two HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
	if strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.Contains(got, "Connection: close") {
		t.Errorf("pipelined:\n%s", got)
	}
	// HTTP/1.0 is refused as Envoy's codec refuses it, unless the connection manager
	// accepts it; then an answer without keep-alive carries its length and the connection
	// closes, and a request without Host gets default_host_for_http_10.
	got = rawExchange(t, addr, "GET / HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 426 Upgrade Required") || !strings.Contains(got, "Connection: close") {
		t.Errorf("HTTP/1.0 refused:\n%s", got)
	}
	got = rawExchange(t, p.ListenerAddr("http10"), "GET / HTTP/1.0\r\nHost: svc\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.Contains(got, "Content-Length: 1") || !strings.HasSuffix(got, "b") {
		t.Errorf("HTTP/1.0:\n%s", got)
	}
	got = rawExchange(t, p.ListenerAddr("http10"), "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.HasSuffix(got, "b") {
		t.Errorf("HTTP/1.0 without Host:\n%s", got)
	}
	// Envoy's header limits: 100 fields, 60 KiB.
	many := "GET / HTTP/1.1\r\nHost: svc\r\n" + strings.Repeat("X-A: 1\r\n", 99) + "\r\n"
	if got := rawExchange(t, addr, many+"GET / HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n"); strings.Count(got, "HTTP/1.1 200 OK") != 2 {
		t.Errorf("100 fields: %.80q, want served", got)
	}
	tooMany := "GET / HTTP/1.1\r\nHost: svc\r\n" + strings.Repeat("X-A: 1\r\n", 100) + "\r\n"
	if got := rawExchange(t, addr, tooMany); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("101 fields: %.80q", got)
	}
	if got := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: svc\r\nX-Big: "+strings.Repeat("a", 61<<10)+"\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("61 KiB header: %.80q", got)
	}
	// A POST body is forwarded and a missing Host is refused.
	got = rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK") {
		t.Errorf("POST:\n%s", got)
	}
	if got := rawExchange(t, addr, "GET / HTTP/1.1\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("no Host:\n%s", got)
	}
	if got := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: svc\r\nX-Big: "+strings.Repeat("a", 1<<20+8192)+"\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("huge header: %.80q", got)
	}
	// A streamed upstream answer is relayed chunked, trailers included.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /chunky HTTP/1.1\r\nHost: svc\r\nTE: trailers\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "part1,part2" || resp.TransferEncoding == nil || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("chunked: body %q, transfer %v, trailer %v", body, resp.TransferEncoding, resp.Trailer)
	}
}

// TestLeanServerChunkedWithLength: a request with both Transfer-Encoding and Content-Length
// gets 400 and the connection closes, as from Envoy's HTTP/1 codec (allow_chunked_length is
// off), whatever their case and order, with bare LFs, and with a head larger than the read
// buffer; either field alone is served, and a chunked body that mentions Content-Length too.
func TestLeanServerChunkedWithLength(t *testing.T) {
	_, _, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {backend(t, "b")}},
		routes: routeConfiguration("r", vhost("v", []string{"svc"}, prefixRoute("/", "b")))})
	const body = "5\r\nhello\r\n0\r\n\r\n"
	pad := "X-Pad: " + strings.Repeat("p", 8<<10) + "\r\n"
	for name, raw := range map[string]string{
		"chunked, then length": "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + body,
		"length, then chunked": "POST / HTTP/1.1\r\nHost: svc\r\ncontent-length: 24\r\ntransfer-encoding: chunked\r\n\r\n" + body,
		"bare LFs":             "POST / HTTP/1.1\nHost: svc\nTransfer-Encoding: chunked\nContent-Length: 5\n\n" + body,
		"past the read buffer": "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n" + pad + "Content-Length: 5\r\n\r\n" + body,
	} {
		if got := rawExchange(t, addr, raw); !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, "Connection: close") {
			t.Errorf("%s: %.80q, want 400", name, got)
		}
	}
	for name, raw := range map[string]string{
		"chunked":                   "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body,
		"length":                    "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
		"chunked, a body naming it": "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n11\r\nContent-Length: 1\r\n0\r\n\r\n",
		"chunked past the buffer":   "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n" + pad + "Connection: close\r\n\r\n" + body,
	} {
		if got := rawExchange(t, addr, raw); !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "b") {
			t.Errorf("%s: %.80q, want 200 from b", name, got)
		}
	}
}

// TestClientLeavingCancelsUpstream: a client that closes its connection while its request
// waits on a slow upstream makes the proxy drop the upstream request, as Envoy resets it.
func TestClientLeavingCancelsUpstream(t *testing.T) {
	cancelled := make(chan time.Duration, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait":
			start := time.Now()
			select {
			case <-r.Context().Done():
				cancelled <- time.Since(start)
			case <-time.After(5 * time.Second):
			}
		case "/slowish":
			time.Sleep(watchAfter + 200*time.Millisecond)
			io.WriteString(w, "slowish")
		default:
			io.WriteString(w, "quick")
		}
	}))
	t.Cleanup(slow.Close)
	noTimeout := prefixRoute("/", "slow")
	noTimeout.GetRoute().Timeout = durationpb.New(0) // Istio's default: no route timeout
	_, _, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"slow": {slow}},
		routes: routeConfiguration("r", vhost("v", []string{"*"}, noTimeout))})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: svc\r\n\r\n")
	time.Sleep(watchAfter + 100*time.Millisecond)
	c.Close()
	select {
	case d := <-cancelled:
		if d > 2*time.Second {
			t.Errorf("upstream request dropped only after %v", d)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the upstream request outlived its client")
	}
	// A request pipelined behind a slow one is read by the watch and still answered.
	got := rawExchange2(t, addr, "GET /slowish HTTP/1.1\r\nHost: svc\r\n\r\nGET /quick HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", 3*time.Second)
	if strings.Count(got, "HTTP/1.1 200 OK") != 2 || !strings.HasSuffix(got, "quick") {
		t.Errorf("pipelined behind a watched request:\n%s", got)
	}
}

func rawExchange2(t *testing.T, addr, raw string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, raw)
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestLeanServerIdleTimeout: the sweep closes a keep-alive connection left idle for the idle
// timeout, and never one whose request is still being served.
func TestLeanServerIdleTimeout(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond) // longer than the idle timeout
		}
		io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newH1Server(h, ln.Addr(), slog.New(slog.DiscardHandler))
	s.idleTimeout, s.sweepEvery = 200*time.Millisecond, 20*time.Millisecond
	go s.serve(ln)
	t.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.shutdown(ctx)
	})

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, path := range []string{"/slow", "/fast"} {
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: svc\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	idle := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %v, want the server to close it", err)
	}
	if d := time.Since(idle); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("idle connection closed after %v, want about 200ms", d)
	}
}
