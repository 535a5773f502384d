package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// labelledEndpoint is c's endpoint line with labels ("version: v1").
func (c *connCounter) labelledEndpoint(labels string) string {
	h, p, _ := strings.Cut(c.addr, ":")
	return fmt.Sprintf("  - {address: %s, ports: {http: %s}, labels: {%s}}\n", h, p, labels)
}

// TestFeatureDestinationRuleMerge: two DestinationRules for reviews in one namespace, in two
// files, are merged as Istio merges them, the rules taken in name order (reviews-base before
// reviews-canary, whatever their files): a VirtualService routes to v1, defined by the first,
// and to v2, defined by the second; the first rule's top-level connection pool (one request
// per connection) applies to both subsets, the second's (two per connection) is ignored, as is
// its second definition of v1 (which would pick v2's endpoint).
func TestFeatureDestinationRuleMerge(t *testing.T) {
	v1, v2 := startConnCounter(t), startConnCounter(t)
	m := startMesh(t, map[string]string{
		"policies/reviews.yaml": serviceEntry("reviews", "reviews.mesh", v1.labelledEndpoint("version: v1"), v2.labelledEndpoint("version: v2")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews.mesh]
  http:
  - match: [{headers: {x-version: {exact: v2}}}]
    route:
    - destination: {host: reviews.mesh, subset: v2}
  - route:
    - destination: {host: reviews.mesh, subset: v1}
`,
		"policies/a-canary.yaml": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-canary}
spec:
  host: reviews.mesh
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 2}}
  subsets:
  - {name: v2, labels: {version: v2}}
  - {name: v1, labels: {version: v2}}
`,
		"policies/z-base.yaml": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-base}
spec:
  host: reviews.mesh
  trafficPolicy:
    connectionPool: {http: {maxRequestsPerConnection: 1}}
  subsets:
  - {name: v1, labels: {version: v1}}
`,
	})
	for _, tc := range []struct {
		version   string
		headers   map[string]string
		to, other *connCounter
		wantTo    string
		wantOther string
	}{
		{"v1", nil, v1, v2, "v1's endpoint", "v2's"},
		{"v2", map[string]string{"x-version": "v2"}, v2, v1, "v2's endpoint", "v1's"},
	} {
		beforeTo, beforeOther := tc.to.conns.Load(), tc.other.conns.Load()
		for i := range 4 {
			if r := m.get("reviews.mesh", "/", tc.headers); r.status != http.StatusOK {
				t.Fatalf("subset %s, request %d: %d %s", tc.version, i, r.status, r.body)
			}
		}
		// One request per connection (the first rule's pool): four connections, all to the
		// subset's endpoint; two per connection (the second's) would have opened two.
		if n := tc.to.conns.Load() - beforeTo; n != 4 {
			t.Errorf("subset %s: 4 requests opened %d connections to %s, want 4 (maxRequestsPerConnection 1 of reviews-base)", tc.version, n, tc.wantTo)
		}
		if n := tc.other.conns.Load() - beforeOther; n != 0 {
			t.Errorf("subset %s: %d connections to %s endpoint, want none", tc.version, n, tc.wantOther)
		}
	}
}
