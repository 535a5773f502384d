package publisher

import (
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// byNamespace routes reviews to v2 for proxies in namespace test and to v1 for the rest.
const byNamespace = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.1.0.1, labels: {version: v1}}
  - {address: 10.1.0.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.mesh
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  http:
  - match: [{sourceNamespace: test}]
    route: [{destination: {host: reviews.mesh, subset: v2}}]
  - route: [{destination: {host: reviews.mesh, subset: v1}}]
`

// TestDeltaRoutesByNamespace: a delta stream is sent the routes for the namespace its node
// names in its NAMESPACE metadata, without the condition, and /status shows the namespace.
func TestDeltaRoutesByNamespace(t *testing.T) {
	p := startServing(t, compileYAML(t, byNamespace))
	for _, c := range []struct {
		namespace, want string
	}{
		{"test", "outbound|80|v2|reviews.mesh"},
		{"default", "outbound|80|v1|reviews.mesh"},
		{"", "outbound|80|v1|reviews.mesh"},
	} {
		id := "delta-ns-" + c.namespace
		d := dialDelta(t, p.XDSAddr(), id)
		if c.namespace != "" {
			md, err := structpb.NewStruct(map[string]any{"NAMESPACE": c.namespace})
			if err != nil {
				t.Fatal(err)
			}
			d.node.Metadata = md
		}
		d.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"outbound|reviews.mesh"}})
		resp := d.next()
		if len(resp.GetResources()) != 1 {
			t.Fatalf("namespace %q: %d route tables, want 1", c.namespace, len(resp.GetResources()))
		}
		var rc route.RouteConfiguration
		if err := resp.GetResources()[0].GetResource().UnmarshalTo(&rc); err != nil {
			t.Fatal(err)
		}
		first := rc.GetVirtualHosts()[0].GetRoutes()[0]
		if got := first.GetRoute().GetCluster(); got != c.want {
			t.Errorf("namespace %q: first route to %s, want %s", c.namespace, got, c.want)
		}
		if first.GetMetadata() != nil {
			t.Errorf("namespace %q: route served with its metadata %v", c.namespace, first.GetMetadata())
		}
		if px, _ := proxyStatus(p, id); px.Namespace != c.namespace {
			t.Errorf("/status namespace of %s: %q, want %q", id, px.Namespace, c.namespace)
		}
	}
}
