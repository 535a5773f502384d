package e2e

import (
	"net/http"
	"testing"
	"time"
)

func resilienceMesh(slow, flaky, ok *echoServer) map[string]string {
	return map[string]string{
		"policies/svc.yaml": serviceEntry("slow", "slow.default.svc.cluster.local", slow.endpoint("app: slow")) + "---\n" +
			serviceEntry("flaky", "flaky.default.svc.cluster.local", flaky.endpoint("app: flaky")) + "---\n" +
			serviceEntry("ok", "ok.default.svc.cluster.local", ok.endpoint("app: ok")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow]
  http:
  - timeout: 200ms
    retries: {attempts: 0}
    route: [{destination: {host: slow}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky}
spec:
  hosts: [flaky]
  http:
  - match: [{headers: {x-retries: {exact: "none"}}}]
    retries: {attempts: 0}
    route: [{destination: {host: flaky}}]
  - retries: {attempts: 3, retryOn: 5xx, perTryTimeout: 1s}
    route: [{destination: {host: flaky}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok}
spec:
  hosts: [ok]
  http:
  - match: [{headers: {x-fault: {exact: abort}}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: ok}}]
  - match: [{headers: {x-fault: {exact: half}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 50}}}
    route: [{destination: {host: ok}}]
  - match: [{headers: {x-fault: {exact: delay}}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
    route: [{destination: {host: ok}}]
  - route: [{destination: {host: ok}}]
`,
	}
}

func TestFeatureResilience(t *testing.T) {
	slow, flaky, ok := startEchoServer(t, "slow"), startEchoServer(t, "flaky"), startEchoServer(t, "ok")
	slow.setBehave(func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		return false
	})
	// flaky fails two calls of every three.
	flaky.setBehave(func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	m := startMesh(t, resilienceMesh(slow, flaky, ok))

	t.Run("timeout", func(t *testing.T) {
		r := m.get("slow", "/", nil)
		if r.status != http.StatusGatewayTimeout || r.elapsed > 1500*time.Millisecond {
			t.Fatalf("status %d after %v, want 504 after about 200ms", r.status, r.elapsed)
		}
	})
	t.Run("retries", func(t *testing.T) {
		for range 10 {
			if r := m.get("flaky", "/", nil); r.status != http.StatusOK {
				t.Fatalf("with 3 retries on 5xx: status %d", r.status)
			}
		}
		failed := 0
		for range 9 {
			if r := m.get("flaky", "/", map[string]string{"x-retries": "none"}); r.status == http.StatusServiceUnavailable {
				failed++
			}
		}
		if failed < 5 {
			t.Fatalf("without retries only %d of 9 calls failed; flaky fails 2 of 3", failed)
		}
	})
	t.Run("fault abort", func(t *testing.T) {
		before := ok.hits.Load()
		for range 10 {
			if r := m.get("ok", "/", map[string]string{"x-fault": "abort"}); r.status != http.StatusServiceUnavailable {
				t.Fatalf("abort: status %d, want 503", r.status)
			}
		}
		if n := ok.hits.Load() - before; n != 0 {
			t.Fatalf("%d aborted requests reached the backend", n)
		}
		aborted := 0
		for range 200 {
			if r := m.get("ok", "/", map[string]string{"x-fault": "half"}); r.status == http.StatusInternalServerError {
				aborted++
			}
		}
		if aborted < 70 || aborted > 130 {
			t.Fatalf("50%% abort: %d of 200 aborted", aborted)
		}
	})
	t.Run("fault delay", func(t *testing.T) {
		r := m.get("ok", "/", map[string]string{"x-fault": "delay"})
		if r.status != http.StatusOK || r.elapsed < 300*time.Millisecond {
			t.Fatalf("delay: status %d after %v, want 200 after at least 300ms", r.status, r.elapsed)
		}
	})
}
