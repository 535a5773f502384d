package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signalbox/signalbox/publisher"
)

// A wait that times out says what it waited for and what the publisher serves, even when the
// deadline cut its last read of /status short (a publisher slow to answer), and names the
// proxies behind; a publisher that does not answer is said not to.
func TestWaitTimeoutSaysWhatItSaw(t *testing.T) {
	const serving = "1111111111111111111111111111111111111111"
	st := publisher.Status{Version: "aaaaaaaaaaaa", Commit: serving, Proxies: []publisher.ProxyStatus{
		{NodeID: "sidecar-1", Version: "aaaaaaaaaaaa", InSync: true, Connected: true},
		{NodeID: "sidecar-2", Version: "bbbbbbbbbbbb", Connected: true},
		{NodeID: "gateway-1", Connected: true},
		{NodeID: "gone", Version: "cccccccccccc"},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond) // a slow answer: a read is in flight at the deadline
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()

	wait := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"wait", "--timeout", "500ms"}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	const proxies = "; 1 of 3 connected proxies in sync with it (behind: sidecar-2 at bbbbbbbbbbbb, gateway-1 at none)\n"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--commit", "2222222"}, "signalbox wait: timed out after 500ms waiting for commit 2222222 on every connected proxy: " +
			"the publisher serves commit 111111111111 (version aaaaaaaaaaaa)" + proxies},
		{[]string{"--version", "aaaaaaaaaaaa"}, "signalbox wait: timed out after 500ms waiting for version aaaaaaaaaaaa on every connected proxy: " +
			"the publisher serves commit 111111111111 (version aaaaaaaaaaaa)" + proxies},
	} {
		if code, out := wait(append(c.args, "--admin", srv.Listener.Addr().String())...); code != exitUsage || out != c.want {
			t.Errorf("wait %v: exit %d\n%s\nwant\n%s", c.args, code, out, c.want)
		}
	}

	addr := srv.Listener.Addr().String()
	srv.Close()
	code, out := wait("--commit", "2222222", "--admin", addr)
	if want := "signalbox wait: timed out after 500ms waiting for commit 2222222 on every connected proxy: the publisher at " + addr + " does not answer: "; code != exitUsage || !strings.HasPrefix(out, want) {
		t.Errorf("wait, publisher down: exit %d\n%s\nwant %s…", code, out, want)
	}
}

func TestDescribeStatus(t *testing.T) {
	for _, c := range []struct {
		st   publisher.Status
		want string
	}{
		{publisher.Status{}, "the publisher serves nothing yet; no proxy is connected"},
		{publisher.Status{LastError: &publisher.LastError{Commit: "3333333333333333"}, Proxies: []publisher.ProxyStatus{{NodeID: "a", Connected: true}}},
			"the publisher serves nothing yet, and refused commit 333333333333; 1 connected proxy"},
		{publisher.Status{Version: "v", Commit: "c", Proxies: []publisher.ProxyStatus{{NodeID: "a", Version: "v", InSync: true, Connected: true}}},
			"the publisher serves commit c (version v); 1 of 1 connected proxy in sync with it"},
	} {
		if got := describeStatus(c.st); got != c.want {
			t.Errorf("%+v:\n%s\nwant\n%s", c.st, got, c.want)
		}
	}
}
