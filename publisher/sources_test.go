package publisher

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
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

// TestLabelsOfIstioBootstrap: a node configured the Istio way (LABELS and NAMESPACE metadata,
// as istio-agent writes them) is read like a signalbox proxy; signalbox's own "labels" wins
// when both are there.
func TestLabelsOfIstioBootstrap(t *testing.T) {
	md, err := structpb.NewStruct(map[string]any{"LABELS": map[string]any{"app": "reviews", "version": "v2"}, "NAMESPACE": "shop"})
	if err != nil {
		t.Fatal(err)
	}
	n := &core.Node{Id: "istio-style", Metadata: md}
	if got := labelsOf(n); got["app"] != "reviews" || got["version"] != "v2" || len(got) != 2 {
		t.Errorf("labels from LABELS: %v", got)
	}
	if got := namespaceOf(n); got != "shop" {
		t.Errorf("namespace from NAMESPACE: %q", got)
	}
	md.Fields["labels"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"app": structpb.NewStringValue("own")}})
	if got := labelsOf(n); got["app"] != "own" || len(got) != 1 {
		t.Errorf("labels with both keys: %v, want signalbox's own", got)
	}
}
