package compiler

import (
	"slices"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
)

// sourceTree routes reviews by the calling proxy: v2 for productpage v2, v3 for proxies in
// namespace test, v1 for every proxy; ratings only for reviews proxies, so other proxies
// reach it by its default route.
const sourceTree = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}}
  - {address: 10.0.0.2, labels: {version: v2}}
  - {address: 10.0.0.3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.1.1, labels: {version: v1}}
  - {address: 10.0.1.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.mesh
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: default}
spec:
  host: ratings.mesh
  subsets: [{name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  http:
  - match: [{sourceLabels: {app: productpage, version: v2}}]
    route: [{destination: {host: reviews.mesh, subset: v2}}]
  - match: [{sourceNamespace: test}]
    route: [{destination: {host: reviews.mesh, subset: v3}}]
  - route: [{destination: {host: reviews.mesh, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.mesh]
  http:
  - match: [{sourceLabels: {app: reviews}}]
    route: [{destination: {host: ratings.mesh, subset: v2}}]
`

func compileSources(t *testing.T) (*Snapshot, *Role) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(sourceTree)}})
	if tree == nil || len(findings) > 0 {
		t.Fatalf("load: %v", findings)
	}
	snap, findings := Compile(tree)
	if snap == nil || len(findings) > 0 {
		t.Fatalf("compile: %v", findings)
	}
	return snap, snap.Role(SidecarRole)
}

// firstCluster is where a request with no particular header goes on host in role r: the
// cluster of the first route of the host's virtual host, "" when there is none.
func firstCluster(t *testing.T, r *Role, host string) string {
	t.Helper()
	for _, res := range r.Resources[resource.RouteType] {
		for _, vh := range res.(*route.RouteConfiguration).GetVirtualHosts() {
			if !slices.Contains(vh.GetDomains(), host) {
				continue
			}
			for _, rt := range vh.GetRoutes() {
				if xds.HasSource(rt) {
					t.Errorf("route %s served with its source condition", rt.GetName())
				}
			}
			if len(vh.GetRoutes()) == 0 {
				return ""
			}
			return vh.GetRoutes()[0].GetRoute().GetCluster()
		}
	}
	return ""
}

func TestLocalizedChoosesRoutesBySource(t *testing.T) {
	s, r := compileSources(t)
	for _, tc := range []struct {
		name           string
		place          Place
		reviews, rates string
	}{
		{"productpage v2", Place{Labels: map[string]string{"app": "productpage", "version": "v2"}, Namespace: "default"},
			"outbound|80|v2|reviews.mesh", "outbound|80||ratings.mesh"},
		{"productpage v1 in test", Place{Labels: map[string]string{"app": "productpage", "version": "v1"}, Namespace: "test"},
			"outbound|80|v3|reviews.mesh", "outbound|80||ratings.mesh"},
		{"reviews", Place{Labels: map[string]string{"app": "reviews", "version": "v1"}, Namespace: "default"},
			"outbound|80|v1|reviews.mesh", "outbound|80|v2|ratings.mesh"},
		{"no labels, no namespace", Place{}, "outbound|80|v1|reviews.mesh", "outbound|80||ratings.mesh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lr, err := s.Localized(r, tc.place)
			if err != nil {
				t.Fatal(err)
			}
			if lr == r || lr.Place == "" {
				t.Fatalf("role served as compiled (place %q), want routes chosen for the proxy", lr.Place)
			}
			if got := firstCluster(t, lr, "reviews.mesh"); got != tc.reviews {
				t.Errorf("reviews: %s, want %s", got, tc.reviews)
			}
			if got := firstCluster(t, lr, "ratings.mesh"); got != tc.rates {
				t.Errorf("ratings: %s, want %s", got, tc.rates)
			}
			for _, typ := range ResourceTypes {
				if typ != resource.RouteType && lr.Versions[typ] != r.Versions[typ] {
					t.Errorf("%s version changed: only routes depend on the proxy's labels", typ)
				}
			}
		})
	}
}

// TestLocalizedSourceKey: proxies that differ only in labels no condition tests share one
// chosen role; ones the conditions tell apart get their own, with their own route version.
func TestLocalizedSourceKey(t *testing.T) {
	s, r := compileSources(t)
	get := func(p Place) *Role {
		lr, err := s.Localized(r, p)
		if err != nil {
			t.Fatal(err)
		}
		return lr
	}
	a := get(Place{Labels: map[string]string{"app": "productpage", "version": "v2", "pod": "a"}})
	b := get(Place{Labels: map[string]string{"app": "productpage", "version": "v2", "pod": "b"}, Locality: "r1/z1"})
	c := get(Place{Labels: map[string]string{"app": "productpage", "version": "v1"}})
	if a != b {
		t.Error("two proxies with the same tested labels got two chosen roles")
	}
	if a.Versions[resource.RouteType] == c.Versions[resource.RouteType] {
		t.Error("productpage v2 and v1 are served different routes under one version")
	}
}

func TestLocalizedSourcesFromSnapshotFile(t *testing.T) {
	s, r := compileSources(t)
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	p := Place{Labels: map[string]string{"app": "reviews"}}
	a, err := s.Localized(r, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := back.Localized(back.Role(SidecarRole), p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Versions[resource.RouteType] != b.Versions[resource.RouteType] {
		t.Errorf("route version from file %s, compiled %s", b.Versions[resource.RouteType], a.Versions[resource.RouteType])
	}
}

// TestNoSourceNoCopy: a role without conditional routes or locality policies is served as
// compiled, whatever the proxy says about itself.
func TestNoSourceNoCopy(t *testing.T) {
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(localityService + "    connectionPool: {tcp: {maxConnections: 5}}\n")}})
	if tree == nil || len(findings) > 0 {
		t.Fatalf("load: %v", findings)
	}
	s, _ := Compile(tree)
	r := s.Role(SidecarRole)
	lr, err := s.Localized(r, Place{Labels: map[string]string{"app": "x"}, Namespace: "default"})
	if err != nil || lr != r {
		t.Errorf("Localized = %p, %v; want the role itself", lr, err)
	}
}
