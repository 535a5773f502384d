package publisher

import (
	"context"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/compiler"
)

// A proxy that rejects everything gets each published version once per type, not a loop.
func TestNACKIsHeldUntilTheNextVersion(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews", "ratings"))
	p := startServing(t, a)
	c := dialADS(t, p.XDSAddr(), "rejecting", nil, compiler.ResourceTypes, nil)

	time.Sleep(time.Second)
	got := c.count()
	t.Logf("responses in 1s to a client NACKing version %s: %v", a.Version, got)
	for _, typ := range compiler.ResourceTypes {
		if got[typ] != 1 {
			t.Errorf("%s: %d responses for one version, want exactly 1", typ, got[typ])
		}
	}
	px, _ := proxyStatus(p, "rejecting")
	if px.NackedVersion == nil || *px.NackedVersion != a.Version || px.Error == nil || !strings.Contains(*px.Error, "on purpose") {
		t.Errorf("status: nacked_version %v error %v, want %s and the proxy's message", px.NackedVersion, px.Error, a.Version)
	}
	if px.Version != "" || px.InSync {
		t.Errorf("status: a proxy that applied nothing has version %q in_sync %v", px.Version, px.InSync)
	}

	// A new version of every type is sent once more, and held again.
	b := snapshot("b", role(compiler.SidecarRole, nil, "b", "reviews", "ratings", "details"))
	p.publish(b)
	time.Sleep(time.Second)
	got = c.count()
	t.Logf("after publishing %s: %v", b.Version, got)
	for _, typ := range compiler.ResourceTypes {
		want := 2
		if b.Roles[0].Versions[typ] == a.Roles[0].Versions[typ] {
			want = 1 // unchanged type: not pushed at all
		}
		if got[typ] != want {
			t.Errorf("%s: %d responses, want %d", typ, got[typ], want)
		}
	}
	if px, _ := proxyStatus(p, "rejecting"); px.NackedVersion == nil || *px.NackedVersion != b.Version {
		t.Errorf("nacked_version %v, want %s", px.NackedVersion, b.Version)
	}
	_, metrics := httpGet(t, p, "/metrics")
	if got := metricSum(metrics, "signalbox_nacks_total"); got != float64(c.total()) {
		t.Errorf("metrics should count %d NACKs:\n%s", c.total(), metrics)
	}
}

// Only the type that changed is re-sent, and a NACK of it leaves the rest applied.
func TestNACKOfOneTypeHoldsOnlyThatType(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews"))
	p := startServing(t, a)
	c := dialADS(t, p.XDSAddr(), "picky", nil, []string{resource.RouteType}, nil)
	eventually(t, "a response of each type", func() bool { return c.total() == len(compiler.ResourceTypes) })

	b := snapshot("b", role(compiler.SidecarRole, nil, "b", "reviews")) // routes change only
	p.publish(b)
	eventually(t, "the new routes", func() bool { return c.count()[resource.RouteType] == 2 })
	time.Sleep(300 * time.Millisecond)
	if got := c.count(); got[resource.ClusterType] != 1 || got[resource.ListenerType] != 1 || got[resource.EndpointType] != 1 || got[resource.RouteType] != 2 {
		t.Errorf("responses %v: want clusters, endpoints and listeners once, routes twice", got)
	}
	px, _ := proxyStatus(p, "picky")
	if px.Acked[resource.ClusterType] != b.Roles[0].Versions[resource.ClusterType] || px.InSync {
		t.Errorf("status %+v: clusters ACKed, routes not, so not in sync", px)
	}
}

// Without the hold, go-control-plane's server loops: this is the behaviour the hold prevents,
// measured so a regression (or a fixed upstream) is visible.
func TestWithoutHoldNACKLoops(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews"))
	p := startServing(t, a)
	p.mu.Lock()
	p.holdNACKs = false
	p.mu.Unlock()
	c := dialADS(t, p.XDSAddr(), "looping", nil, []string{resource.ClusterType}, map[string][]string{resource.ClusterType: nil})
	time.Sleep(500 * time.Millisecond)
	n := c.total()
	t.Logf("without the hold: %d responses in 0.5s to one client NACKing clusters", n)
	if n < 50 {
		t.Errorf("expected go-control-plane to re-send in a loop without the hold, got %d responses", n)
	}
}

// Delta xDS needs no hold: a NACK alone produces no response.
func TestDeltaNACKDoesNotLoop(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews"))
	p := startServing(t, a)
	conn, err := grpc.NewClient(p.XDSAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "delta-rejecting"}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: resource.ClusterType}); err != nil {
		t.Fatal(err)
	}
	responses := make(chan *discovery.DeltaDiscoveryResponse, 1000)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				close(responses)
				return
			}
			responses <- resp
			stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce,
				ErrorDetail: &status.Status{Code: 3, Message: "no"}})
		}
	}()
	time.Sleep(time.Second)
	if n := len(responses); n != 1 {
		t.Errorf("delta: %d responses to a NACKing client in 1s, want 1", n)
	}
	eventually(t, "the delta NACK in status", func() bool {
		px, _ := proxyStatus(p, "delta-rejecting")
		return px.NackedVersion != nil && *px.NackedVersion == a.Version
	})
}
