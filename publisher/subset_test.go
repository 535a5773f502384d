package publisher

import (
	"context"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/compiler"
)

// A delta client subscribing to named clusters gets those, then only changes to those; a
// cluster it did not name changing sends it nothing, and one it names going away is removed.
func TestDeltaNamedSubscription(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews", "ratings"))
	p := startServing(t, a)
	conn, err := grpc.NewClient(p.XDSAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: &core.Node{Id: "named"}, TypeUrl: resource.ClusterType,
		ResourceNamesSubscribe: []string{"ratings", "details"}}); err != nil {
		t.Fatal(err)
	}
	recv := func() *discovery.DeltaDiscoveryResponse {
		t.Helper()
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	clusterNames := func(resp *discovery.DeltaDiscoveryResponse) []string {
		var out []string
		for _, r := range resp.Resources {
			var c clusterv3.Cluster
			if err := r.Resource.UnmarshalTo(&c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c.Name)
		}
		return out
	}
	if got := clusterNames(recv()); !slices.Equal(got, []string{"ratings"}) {
		t.Fatalf("first response: clusters %v, want the one named that exists", got)
	}
	// details appears; reviews (not named) is dropped; ratings is unchanged.
	p.publish(snapshot("b", role(compiler.SidecarRole, nil, "b", "details", "ratings")))
	if got := clusterNames(recv()); !slices.Equal(got, []string{"details"}) {
		t.Errorf("after details appeared: clusters %v, want [details]", got)
	}
	// ratings goes away.
	p.publish(snapshot("c", role(compiler.SidecarRole, nil, "c", "details")))
	if resp := recv(); len(resp.Resources) != 0 || !slices.Equal(resp.RemovedResources, []string{"ratings"}) {
		t.Errorf("after ratings went away: %d resources, removed %v", len(resp.Resources), resp.RemovedResources)
	}
}
