package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
)

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestWait(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	dialADS(t, p.XDSAddr(), "ok-1", nil, nil, nil)
	dialADS(t, p.XDSAddr(), "gw-1", ingress, nil, nil)
	eventually(t, "both proxies to connect", func() bool { return len(p.Status().Proxies) == 2 })

	if err := Wait(waitCtx(t, 10*time.Second), p.AdminAddr(), "", a.Version); err != nil {
		t.Fatalf("wait for version: %v", err)
	}
	if err := Wait(waitCtx(t, 10*time.Second), p.AdminAddr(), "c-a", ""); err != nil {
		t.Fatalf("wait for commit: %v", err)
	}
	st, err := FetchStatus(t.Context(), "http://"+p.AdminAddr()+"/")
	if err != nil || st.Version != a.Version || len(st.Proxies) != 2 || !st.Proxies[0].InSync || !st.Proxies[1].InSync {
		t.Fatalf("FetchStatus: %+v %v", st, err)
	}

	// A version nobody serves: a timeout, which says what it waited for.
	err = Wait(waitCtx(t, 300*time.Millisecond), p.AdminAddr(), "", "000000000000")
	var timeout *TimeoutError
	if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for an unknown version: %v, want a timeout", err)
	}
	t.Logf("timeout: %v", err)

	// A proxy that rejects the next version makes Wait fail at once with a NACK.
	// Its listener is the same in both versions: rejected in a, it is rejected in b too.
	dialADS(t, p.XDSAddr(), "picky-1", nil, []string{resource.ListenerType}, nil)
	eventually(t, "picky-1 to reject a", func() bool { px, _ := proxyStatus(p, "picky-1"); return px.NackedVersion != nil })
	b := snapshot("c-b", role(compiler.SidecarRole, nil, "b", "reviews"), role("gateway/istio=ingressgateway", ingress, "b", "productpage"))
	p.publish(b)
	start := time.Now()
	err = Wait(waitCtx(t, 10*time.Second), p.AdminAddr(), "c-b", "")
	var nack *NACKError
	if !errors.As(err, &nack) || nack.NodeID != "picky-1" || nack.Version != b.Version {
		t.Fatalf("wait with a NACKing proxy: %v, want a NACKError from picky-1", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the NACK took %v to report", time.Since(start))
	}
}

func TestWaitForARejectedCommit(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	p.reject("badc0ffee0ddf00d", "policies/x.yaml:3:7: error: VirtualService default/x: weight must be >= 0")
	err := Wait(waitCtx(t, 5*time.Second), p.AdminAddr(), "badc0ffee0dd", "")
	var rejected *RejectedError
	if !errors.As(err, &rejected) || rejected.Commit != "badc0ffee0ddf00d" {
		t.Fatalf("wait for a rejected commit: %v", err)
	}
	if err := Wait(t.Context(), p.AdminAddr(), "", ""); err == nil {
		t.Error("Wait with neither commit nor version succeeded")
	}
}

// TestWaitTimeoutKeepsLastAnswer: when the deadline cuts off a /status request, the timeout
// says what the publisher last answered, not that the cut-off request failed.
func TestWaitTimeoutKeepsLastAnswer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			<-r.Context().Done() // every later answer is slower than the wait
			return
		}
		json.NewEncoder(w).Encode(Status{Version: "old-version", Commit: "c-old", Proxies: []ProxyStatus{}})
	}))
	t.Cleanup(srv.Close)
	err := Wait(waitCtx(t, 500*time.Millisecond), strings.TrimPrefix(srv.URL, "http://"), "", "new-version")
	var timeout *TimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("Wait: %v, want a timeout", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "old-version") || strings.Contains(msg, "deadline exceeded") {
		t.Errorf("timeout message %q, want what the publisher last said (it serves old-version)", msg)
	}
}
