package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A response of unknown length (server-sent events, long polling) reaches the client as the
// upstream writes it: the upstream sends its second event only once the client has read the
// first, so a proxy that held the body back would never deliver either.
func TestStreamedResponseRelayedAsItComes(t *testing.T) {
	gotFirst := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(testTimeout):
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	routes := routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "up")))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"up": {up}}})

	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/events", nil)
	req.Host = "svc"
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	read := func() string {
		t.Helper()
		done := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			br.ReadString('\n') // the blank line ending the event
			done <- line
		}()
		select {
		case line := <-done:
			return line
		case <-time.After(testTimeout):
			t.Fatal("no event within the test's time: the proxy held the stream back")
			return ""
		}
	}
	if got := read(); got != "data: one\n" {
		t.Fatalf("first event %q", got)
	}
	close(gotFirst)
	if got := read(); got != "data: two\n" {
		t.Fatalf("second event %q", got)
	}
}
