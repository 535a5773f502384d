package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTestH1Transport is the lean transport as the forwarder builds it, dialing with dial.
func newTestH1Transport(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *h1Transport {
	tr := &h1Transport{dial: dial, fallback: http.DefaultTransport}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// echoDigest answers with the length and SHA-256 of the request body it read.
func echoDigest(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, _ := io.Copy(h, r.Body)
	io.WriteString(w, strconv.FormatInt(n, 10)+" "+hex.EncodeToString(h.Sum(nil)))
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return strconv.Itoa(len(b)) + " " + hex.EncodeToString(s[:])
}

// TestSendAndWaitBodies: request bodies sent with the head (up to h1InlineBody) and streamed
// after it (larger) arrive whole, on connections reused from one request to the next, also
// when the sockets' buffers are too small for the head and body (the write in the raw read
// stops with EAGAIN and the rest goes by the ordinary write).
func TestSendAndWaitBodies(t *testing.T) {
	// Small socket buffers at both ends, so a request of a few KiB does not fit in one write.
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := httptest.NewUnstartedServer(http.HandlerFunc(echoDigest))
	be.Listener.Close()
	be.Listener = ln
	be.Start()
	t.Cleanup(be.Close)
	addr := be.Listener.Addr().String()

	for _, tc := range []struct {
		name string
		dial func(ctx context.Context, network, addr string) (net.Conn, error)
	}{
		{"default socket", (&net.Dialer{}).DialContext},
		{"small send buffer", func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.(*net.TCPConn).SetWriteBuffer(2048)
			}
			return c, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestH1Transport(t, tc.dial)
			for _, size := range []int{0, 100, h1InlineBody, h1InlineBody + 1, 1 << 20} {
				body := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
				for range 2 { // the second time on the connection the first returned
					req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
					resp, err := tr.roundTrip(req, leanExchange{deadline: time.Now().Add(5 * time.Second)}) // a lost write fails, not hangs
					if err != nil {
						t.Fatalf("%d-byte body: %v", size, err)
					}
					got, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(got) != digestOf(body) {
						t.Fatalf("%d-byte body: upstream read %q, want %q", size, got, digestOf(body))
					}
				}
			}
		})
	}
}

// TestSendAndWaitUpstreamClosedIdle: a pooled connection the upstream closed while idle fails
// on its next request before any answer, and the request is sent again on a new connection,
// as http.Transport does.
func TestSendAndWaitUpstreamClosedIdle(t *testing.T) {
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fresh")
	}))
	be.Start()
	t.Cleanup(be.Close)
	tr := newTestH1Transport(t, (&net.Dialer{}).DialContext)
	get := func() (string, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+be.Listener.Addr().String()+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	be.CloseClientConnections() // the pooled connection is now closed at the upstream's end
	time.Sleep(50 * time.Millisecond)
	got, err := get()
	if err != nil || got != "fresh" {
		t.Fatalf("after the upstream closed the idle connection: %q, %v", got, err)
	}
}

// TestSendAndWaitDeadline: an upstream that never answers fails the exchange at its deadline
// with a timeout, while it waits for the answer it has not read yet.
func TestSendAndWaitDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // read nothing, answer nothing
		}
	}()
	tr := newTestH1Transport(t, (&net.Dialer{}).DialContext)
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	start := time.Now()
	_, err = tr.roundTrip(req, leanExchange{deadline: start.Add(200 * time.Millisecond)})
	if err == nil || !isTimeout(err) {
		t.Fatalf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the deadline took %v", d)
	}
	if !strings.Contains(err.Error(), "read") {
		t.Errorf("error %q does not say it failed reading", err)
	}
}
