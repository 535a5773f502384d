package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// A body of unknown length (chunked) is streamed to the first attempt and kept: a retry sends
// it again whole. One past maxReplayBody is not kept, so its failed attempt is the answer.
func TestRetryReplaysStreamedBody(t *testing.T) {
	// Every odd attempt fails after reading the body; the even ones echo its length.
	up, attempts := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if n%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, strconv.Itoa(len(body)))
	})
	routes := routeConfiguration("r", vhost("v", []string{"*"}, withRetry(prefixRoute("/", "up"), istioRetry("5xx", 2, 0))))
	_, _, addr := setup(t, sidecar{routes: routes, version: "r1", clusters: map[string][]*httptest.Server{"up": {up}}})
	post := func(size int) (int, string) {
		t.Helper()
		// An io.Reader the client cannot size: sent chunked, ContentLength -1 at the proxy.
		body := io.MultiReader(strings.NewReader(strings.Repeat("x", size)))
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", body)
		req.Host = "svc"
		resp, err := newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	if code, got := post(5000); code != http.StatusOK || got != "5000" {
		t.Errorf("small chunked body: %d %q, want the retry to deliver all 5000 bytes", code, got)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	if code, _ := post(maxReplayBody + 1); code != http.StatusServiceUnavailable {
		t.Errorf("body past maxReplayBody: %d, want the first attempt's 503 (no retry)", code)
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 3: the large body is not retried", n)
	}
}

// A body of unknown length is mirrored once it has come whole: the shadow gets the same bytes
// as the upstream, while the client's request streams on without waiting for the shadow.
func TestMirrorStreamedBody(t *testing.T) {
	main, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, strconv.Itoa(len(body)))
	})
	shadowSaw := make(chan string, 1)
	shadow, _ := scripted(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		shadowSaw <- string(body)
	})
	route := prefixRoute("/", "main")
	route.GetRoute().RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{
		Cluster: "shadow", RuntimeFraction: &core.RuntimeFractionalPercent{DefaultValue: percent(100)}}}
	_, _, addr := setup(t, sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, route)),
		clusters: map[string][]*httptest.Server{"main": {main}, "shadow": {shadow}}})
	sent := strings.Repeat("order;", 500)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/orders", io.MultiReader(strings.NewReader(sent)))
	req.Host = "svc"
	resp, err := newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != strconv.Itoa(len(sent)) {
		t.Errorf("upstream got %s bytes, want %d", got, len(sent))
	}
	select {
	case body := <-shadowSaw:
		if body != sent {
			t.Errorf("the shadow got %d bytes, want the %d sent", len(body), len(sent))
		}
	case <-time.After(testTimeout):
		t.Fatal("no shadow request")
	}
}
