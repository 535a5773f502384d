package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Consistent hashing on a header sends one key to one endpoint, every time.
func TestFeatureConsistentHash(t *testing.T) {
	a, b, c := startEchoServer(t, "a"), startEchoServer(t, "b"), startEchoServer(t, "c")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local",
			a.endpoint("app: web"), b.endpoint("app: web"), c.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
`,
	})
	seen := map[string]bool{}
	for u := range 8 {
		user := fmt.Sprintf("user-%d", u)
		first := ""
		for range 10 {
			r := m.get("web", "/", map[string]string{"x-user": user})
			if first == "" {
				first = r.echo.Name
			}
			if r.echo.Name != first {
				t.Fatalf("%s went to %s and then %s", user, first, r.echo.Name)
			}
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Fatalf("8 users all hashed to %v", seen)
	}
}

// connectionPool limits become circuit breakers: requests over the limit get 503 with
// x-envoy-overloaded at once.
func TestFeatureCircuitBreaker(t *testing.T) {
	slow := startEchoServer(t, "slow")
	slow.setBehave(func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		time.Sleep(300 * time.Millisecond)
		return false
	})
	m := startMesh(t, map[string]string{
		"policies/slow.yaml": serviceEntry("slow", "slow.default.svc.cluster.local", slow.endpoint("app: slow")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow}
spec:
  host: slow
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: slow}}]
`,
	})
	var mu sync.Mutex
	codes := map[int]int{}
	overloaded := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := m.get("slow", "/", nil)
			mu.Lock()
			codes[r.status]++
			if r.header.Get("X-Envoy-Overloaded") == "true" {
				overloaded++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] == 0 || codes[http.StatusServiceUnavailable] == 0 || overloaded != codes[http.StatusServiceUnavailable] {
		t.Fatalf("8 concurrent requests over a limit of 1: statuses %v, %d marked overloaded", codes, overloaded)
	}
}

// Outlier detection ejects an endpoint that keeps failing: traffic then goes to the healthy one.
func TestFeatureOutlierDetection(t *testing.T) {
	good, bad := startEchoServer(t, "good"), startEchoServer(t, "bad")
	bad.setBehave(func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	m := startMesh(t, map[string]string{
		"policies/web.yaml": serviceEntry("web", "web.default.svc.cluster.local", good.endpoint("app: web"), bad.endpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 50ms
      baseEjectionTime: 30s
      maxEjectionPercent: 100
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: web}}]
`,
	})
	for range 10 {
		m.get("web", "/", nil)
	}
	time.Sleep(100 * time.Millisecond)
	for i := range 20 {
		if r := m.get("web", "/", nil); r.status != http.StatusOK {
			t.Fatalf("request %d after the bad endpoint failed repeatedly: status %d (not ejected)", i, r.status)
		}
	}
}

// A DNS ServiceEntry resolves its endpoint host names in the proxy; a workloadSelector picks
// WorkloadEntries by label.
func TestFeatureServices(t *testing.T) {
	dns, vm, other := startEchoServer(t, "dns"), startEchoServer(t, "vm"), startEchoServer(t, "other")
	_, dnsPort := dns.hostPort()
	vmHost, vmPort := vm.hostPort()
	otherHost, otherPort := other.hostPort()
	m := startMesh(t, map[string]string{
		"policies/services.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [api.external.example]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: %s}
  resolution: DNS
  endpoints:
  - {address: localhost}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms}
spec:
  hosts: [vms.default.svc.cluster.local]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  workloadSelector:
    labels: {app: vms}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1}
spec:
  address: %s
  ports: {http: %s}
  labels: {app: vms}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: not-a-vm}
spec:
  address: %s
  ports: {http: %s}
  labels: {app: other}
`, dnsPort, vmHost, vmPort, otherHost, otherPort),
	})
	if r := m.get("api.external.example", "/", nil); r.echo.Name != "dns" {
		t.Fatalf("DNS service: status %d from %q, want the backend behind localhost", r.status, r.echo.Name)
	}
	for range 10 {
		if r := m.get("vms", "/", nil); r.echo.Name != "vm" {
			t.Fatalf("workloadSelector: status %d from %q, want only the selected WorkloadEntry", r.status, r.echo.Name)
		}
	}
}
