package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// rawUpstream answers every request with the response its path names in answers, byte for
// byte, on keep-alive connections (closed after /trimmed): what a relayed head carries is
// then exactly known.
func rawUpstream(t *testing.T, answers map[string]string) *httptest.Server {
	t.Helper()
	ln := listenLoopback(t)
	serveConns(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, answers[req.URL.Path]); err != nil || req.URL.Path == "/trimmed" {
				return // /trimmed: the connection ends inside the body
			}
		}
	})
	return &httptest.Server{Listener: ln}
}

// TestRelayedResponseHead: a response nothing changes reaches the client with the upstream's
// header lines as they came, one Date, and the client connection's own Connection field; a
// hop-by-hop field, a route's response header or an HTTP/1.0 client still get what the
// header-map path gives.
func TestRelayedResponseHead(t *testing.T) {
	const date = "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
	up := rawUpstream(t, map[string]string{
		"/plain":   "HTTP/1.1 200 OK\r\nx-lower: v\r\n" + date + "Content-Length: 2\r\n\r\nok",
		"/nodate":  "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
		"/hop":     "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n" + date + "Content-Length: 2\r\n\r\nok",
		"/decor":   "HTTP/1.1 200 OK\r\n" + date + "Content-Length: 2\r\n\r\nok",
		"/status":  "HTTP/1.1 503 Whatever\r\n" + date + "Content-Length: 4\r\n\r\nbusy",
		"/trimmed": "HTTP/1.1 200 OK\r\n" + date + "Content-Length: 9\r\n\r\nok",
		// Fields the connection manager and the router replace: the head takes the map path.
		"/server": "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nX-Envoy-Upstream-Service-Time: 999\r\n" + date + "Content-Length: 2\r\n\r\nok",
	})
	decorated := prefixRoute("/decor", "up")
	decorated.ResponseHeadersToAdd = []*core.HeaderValueOption{hv("x-added", "yes", overwriteOrAdd)}
	routes := routeConfiguration("r", vhost("v", []string{"*"}, decorated, prefixRoute("/", "up")))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"up": {up}},
		hcm: acceptHTTP10})

	c := dialProxy(t, addr)
	br := bufio.NewReader(c)
	exchange := func(req string) string {
		t.Helper()
		c.SetDeadline(time.Now().Add(testTimeout))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		body, _ := io.ReadAll(resp.Body)
		var b strings.Builder
		b.WriteString(resp.Status + "|")
		resp.Header.Del("Date")
		for _, k := range []string{"X-Lower", "X-Secret", "Keep-Alive", "Connection", "X-Added", "Content-Length", "Server"} {
			if v := resp.Header.Values(k); v != nil {
				b.WriteString(k + "=" + strings.Join(v, ",") + ";")
			}
		}
		if st := resp.Header.Values("X-Envoy-Upstream-Service-Time"); len(st) != 1 || !isDigits(st[0]) || st[0] == "999" {
			t.Errorf("%q: x-envoy-upstream-service-time %q, want the proxy's one count of milliseconds", req, st)
		}
		b.WriteString("|" + string(body))
		return b.String()
	}
	rawHead := func(path string) string {
		t.Helper()
		c.SetDeadline(time.Now().Add(testTimeout))
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: svc\r\n\r\n")
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		io.CopyN(io.Discard, br, 2)
		return head.String()
	}

	// The router's service time and the connection manager's Server follow the upstream's
	// lines, as Envoy adds them; the milliseconds vary, so they are read as N.
	serviceTime := regexp.MustCompile(`X-Envoy-Upstream-Service-Time: [0-9]+\r\n`)
	if got, want := serviceTime.ReplaceAllString(rawHead("/plain"), "X-Envoy-Upstream-Service-Time: N\r\n"),
		"HTTP/1.1 200 OK\r\nx-lower: v\r\n"+date+"Content-Length: 2\r\nX-Envoy-Upstream-Service-Time: N\r\nServer: envoy\r\n\r\n"; got != want {
		t.Errorf("relayed head:\n%q\nwant\n%q", got, want)
	}
	if got := rawHead("/nodate"); strings.Count(got, "Date: ") != 1 || !strings.HasPrefix(got, "HTTP/1.1 201 Created\r\n") {
		t.Errorf("head without the upstream's Date: %q, want one Date added", got)
	}
	for _, tc := range []struct{ req, want string }{
		{"GET /hop HTTP/1.1\r\nHost: svc\r\n\r\n", "200 OK|Content-Length=2;Server=envoy;|ok"},
		{"GET /decor HTTP/1.1\r\nHost: svc\r\n\r\n", "200 OK|X-Added=yes;Content-Length=2;Server=envoy;|ok"},
		{"GET /status HTTP/1.1\r\nHost: svc\r\n\r\n", "503 Service Unavailable|Content-Length=4;Server=envoy;|busy"},
		{"GET /plain HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n", "200 OK|X-Lower=v;Connection=keep-alive;Content-Length=2;Server=envoy;|ok"},
		{"GET /server HTTP/1.1\r\nHost: svc\r\n\r\n", "200 OK|Content-Length=2;Server=envoy;|ok"},
	} {
		if got := exchange(tc.req); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.req, got, tc.want)
		}
	}
	// A body shorter than its Content-Length ends the client's connection rather than pass
	// for a whole response.
	c.SetDeadline(time.Now().Add(testTimeout))
	io.WriteString(c, "GET /trimmed HTTP/1.1\r\nHost: svc\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
	}
	if err == nil {
		t.Error("a truncated upstream body reached the client as a complete response")
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
