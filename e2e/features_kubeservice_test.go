package e2e

import (
	"fmt"
	"testing"
)

// A Kubernetes Service is a service as Istio's Kubernetes registry reads it: bookinfo's reviews
// Service, whose selector picks WorkloadEntries (here pointing at test backends) and whose named
// targetPort is each WorkloadEntry's port of that name, split 80/20 between two subsets by
// version. A WorkloadEntry the selector matches but without the named port is no endpoint, as
// in Istio, and gets nothing.
func TestFeatureKubernetesServiceSubsets(t *testing.T) {
	v1, v2, stray := startEchoServer(t, "v1"), startEchoServer(t, "v2"), startEchoServer(t, "stray")
	workload := func(name, version, portName string, e *echoServer) string {
		h, p := e.hostPort()
		return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: %s}
spec:
  address: %s
  ports: {%s: %s}
  labels: {app: reviews, version: %s}
`, name, h, portName, p, version)
	}
	m := startMesh(t, map[string]string{
		"policies/bookinfo.yaml": `apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews, service: reviews}
spec:
  ports:
  - port: 9080
    name: http
    targetPort: http-web
  selector:
    app: reviews
` + workload("reviews-v1", "v1", "http-web", v1) + workload("reviews-v2", "v2", "http-web", v2) +
			workload("reviews-stray", "v1", "http", stray) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
`,
	})
	got := map[string]int{}
	const n = 200
	for range n {
		got[m.get("reviews:9080", "/", nil).echo.Name]++
	}
	// 80/20 of 200: v1 160 on average; the bounds are more than five standard deviations out.
	if got["v1"] < 130 || got["v1"] > 190 || got["v2"] == 0 || got["v1"]+got["v2"] != n {
		t.Fatalf("200 requests to reviews went %v, want about 160 to v1 and 40 to v2, none elsewhere", got)
	}
	if h := stray.hits.Load(); h != 0 {
		t.Fatalf("the WorkloadEntry without port http-web got %d requests", h)
	}
	// The fully qualified host Istio gives the Service is routed the same way.
	if r := m.get("reviews.default.svc.cluster.local:9080", "/", nil); r.echo.Name != "v1" && r.echo.Name != "v2" {
		t.Fatalf("reviews.default.svc.cluster.local went to %q", r.echo.Name)
	}
}
