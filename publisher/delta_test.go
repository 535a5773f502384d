package publisher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/signalbox/signalbox/compiler"
)

// deltaClient is a raw delta ADS stream: the test sends each request itself.
type deltaClient struct {
	t      *testing.T
	node   *core.Node
	stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resps  chan *discovery.DeltaDiscoveryResponse
}

func dialDelta(t *testing.T, addr, id string) *deltaClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		cancel()
		conn.Close()
		t.Fatal(err)
	}
	c := &deltaClient{t: t, node: &core.Node{Id: id}, stream: stream, resps: make(chan *discovery.DeltaDiscoveryResponse, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			c.resps <- resp
		}
	}()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return c
}

// send sends req, with the node on the stream's first request.
func (c *deltaClient) send(req *discovery.DeltaDiscoveryRequest) {
	c.t.Helper()
	if c.node != nil {
		req.Node, c.node = c.node, nil
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// next waits for a response and ACKs it.
func (c *deltaClient) next() *discovery.DeltaDiscoveryResponse {
	c.t.Helper()
	resp := c.wait()
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce})
	return resp
}

func (c *deltaClient) wait() *discovery.DeltaDiscoveryResponse {
	c.t.Helper()
	select {
	case resp := <-c.resps:
		return resp
	case <-time.After(5 * time.Second):
		c.t.Fatal("no delta response in 5s")
		return nil
	}
}

// none checks that nothing arrives for a while.
func (c *deltaClient) none(what string) {
	c.t.Helper()
	select {
	case resp := <-c.resps:
		c.t.Errorf("%s: got a response with %v, removed %v; want none", what, resourceNames(resp), resp.RemovedResources)
	case <-time.After(300 * time.Millisecond):
	}
}

// resourceNames are a delta response's resource names, sorted.
func resourceNames(resp *discovery.DeltaDiscoveryResponse) []string {
	var out []string
	for _, r := range resp.Resources {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func versionsOf(resp *discovery.DeltaDiscoveryResponse) map[string]string {
	out := map[string]string{}
	for _, r := range resp.Resources {
		out[r.Name] = r.Version
	}
	return out
}

// retimed is r with cluster name's connect timeout set to d: that cluster's bytes (and so its
// version) change, nothing else does.
func retimed(r *compiler.Role, name string, d time.Duration) *compiler.Role {
	out := cloneRole(r)
	for i, res := range out.Resources[resource.ClusterType] {
		if c := res.(*clusterv3.Cluster); c.Name == name {
			c = proto.Clone(c).(*clusterv3.Cluster)
			c.ConnectTimeout = durationpb.New(d)
			out.Resources[resource.ClusterType][i] = c
		}
	}
	setVersions(out)
	return out
}

// cloneRole copies r's resource lists (not the resources).
func cloneRole(r *compiler.Role) *compiler.Role {
	out := &compiler.Role{Name: r.Name, Selector: r.Selector, Resources: map[resource.Type][]types.Resource{}, Versions: map[resource.Type]string{}}
	for t, rs := range r.Resources {
		out.Resources[t] = slices.Clone(rs)
	}
	return out
}

// setVersions digests each type's resources, as the compiler does.
func setVersions(r *compiler.Role) {
	for _, t := range compiler.ResourceTypes {
		h := sha256.New()
		for _, res := range r.Resources[t] {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(res)
			h.Write(b)
		}
		r.Versions[t] = hex.EncodeToString(h.Sum(nil))[:12]
	}
}

// A client reconnecting with initial_resource_versions is sent only what it does not hold at
// the version serving, and told which of its resources are gone; after that it follows
// changes like any other stream.
func TestDeltaResumeWithInitialVersions(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "catalog", "details", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	first := dialDelta(t, p.XDSAddr(), "resuming")
	first.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
	held := versionsOf(first.next())
	if len(held) != 4 {
		t.Fatalf("first stream: %d clusters, want 4", len(held))
	}

	// Meanwhile ratings changes, details goes away and productpage appears.
	b := retimed(role(compiler.SidecarRole, nil, "b", "catalog", "productpage", "ratings", "reviews"), "ratings", 7*time.Second)
	p.publish(snapshot("b", b))
	held["reviews"] = "stale"     // a version the publisher never sent
	held["gone"] = "0123456789ab" // a resource the publisher no longer has
	second := dialDelta(t, p.XDSAddr(), "resuming")
	second.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, InitialResourceVersions: held})
	resp := second.next()
	if got, want := resourceNames(resp), []string{"productpage", "ratings", "reviews"}; !slices.Equal(got, want) {
		t.Errorf("resumed: sent %v, want %v (catalog is held at its version)", got, want)
	}
	if got, want := resp.RemovedResources, []string{"details", "gone"}; !slices.Equal(got, want) {
		t.Errorf("resumed: removed %v, want %v", got, want)
	}

	// Then only what changes.
	p.publish(snapshot("c", retimed(b, "catalog", 9*time.Second)))
	resp = second.next()
	if got := resourceNames(resp); !slices.Equal(got, []string{"catalog"}) || len(resp.RemovedResources) != 0 {
		t.Errorf("after catalog changed: sent %v, removed %v; want [catalog] only", got, resp.RemovedResources)
	}

	// A client resuming with everything at the version serving is answered (its first
	// wildcard request always is) with nothing.
	third := dialDelta(t, p.XDSAddr(), "resumed-in-sync")
	all := versionsOf(dialAndTake(t, p, "fresh"))
	third.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, InitialResourceVersions: all})
	if resp := third.next(); len(resp.Resources) != 0 || len(resp.RemovedResources) != 0 {
		t.Errorf("in sync: sent %v, removed %v; want nothing", resourceNames(resp), resp.RemovedResources)
	}
}

// dialAndTake is the clusters a new wildcard delta stream is sent.
func dialAndTake(t *testing.T, p *Publisher, id string) *discovery.DeltaDiscoveryResponse {
	c := dialDelta(t, p.XDSAddr(), id)
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
	return c.next()
}

// A NACKed response is not sent again, and the status shows the NACK; the next publish sends
// what changed since the last response the client accepted: the refused change as well.
func TestDeltaNACKHold(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	c := dialDelta(t, p.XDSAddr(), "nacking")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
	c.next()

	b := retimed(a, "ratings", 3*time.Second)
	sb := snapshot("b", b)
	p.publish(sb)
	resp := c.wait()
	if got := resourceNames(resp); !slices.Equal(got, []string{"ratings"}) {
		t.Fatalf("after ratings changed: sent %v", got)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce,
		ErrorDetail: &status.Status{Code: 3, Message: "ratings rejected"}})
	c.none("after the NACK")
	eventually(t, "the NACK in status", func() bool {
		px, _ := proxyStatus(p, "nacking")
		return px.NackedVersion != nil && *px.NackedVersion == sb.Version && px.Error != nil
	})

	p.publish(snapshot("c", retimed(b, "reviews", 4*time.Second)))
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"ratings", "reviews"}) {
		t.Errorf("after the next publish: sent %v, want [ratings reviews] (the client refused the new ratings)", got)
	}
	eventually(t, "the proxy in sync after ACKing", func() bool {
		px, _ := proxyStatus(p, "nacking")
		return px.NackedVersion == nil
	})
}

// Names subscribed later are sent; names unsubscribed are not followed; a name subscribed
// again is sent again; a wildcard subscriber unsubscribing a name it also named is sent it
// again, as the protocol asks.
func TestDeltaSubscribeUnsubscribe(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "details", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	c := dialDelta(t, p.XDSAddr(), "subscribing")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"ratings"}})
	resp := c.next()
	if got := resourceNames(resp); !slices.Equal(got, []string{"ratings"}) {
		t.Fatalf("first: %v", got)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: resp.Nonce, ResourceNamesSubscribe: []string{"reviews"}})
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"reviews"}) {
		t.Errorf("after subscribing to reviews: %v", got)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesUnsubscribe: []string{"reviews", "ratings"}})
	c.none("after unsubscribing")
	p.publish(snapshot("b", retimed(a, "ratings", 3*time.Second)))
	c.none("a change to a name no longer subscribed")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"reviews"}})
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"reviews"}) {
		t.Errorf("after subscribing to reviews again: %v", got)
	}
	// Widening to the wildcard sends what it lacks.
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"*"}})
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"details", "ratings"}) {
		t.Errorf("after subscribing to *: %v, want [details ratings]", got)
	}
	// reviews is named and covered by the wildcard: unsubscribing it sends it again.
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesUnsubscribe: []string{"reviews"}})
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"reviews"}) {
		t.Errorf("after unsubscribing reviews under the wildcard: %v, want [reviews]", got)
	}
}

// Wildcard streams of one role are sent the changed and removed resources only, alike.
func TestDeltaWildcardChangesAndRemovals(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "details", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	var cs []*deltaClient
	for _, id := range []string{"one", "two"} {
		c := dialDelta(t, p.XDSAddr(), id)
		c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
		if got := resourceNames(c.next()); len(got) != 3 {
			t.Fatalf("%s first: %v", id, got)
		}
		cs = append(cs, c)
	}
	p.publish(snapshot("b", retimed(role(compiler.SidecarRole, nil, "b", "ratings", "reviews"), "reviews", 5*time.Second)))
	for _, c := range cs {
		resp := c.next()
		if got := resourceNames(resp); !slices.Equal(got, []string{"reviews"}) || !slices.Equal(resp.RemovedResources, []string{"details"}) {
			t.Errorf("sent %v, removed %v; want [reviews], [details]", got, resp.RemovedResources)
		}
	}
	// The same publish again changes nothing.
	p.publish(snapshot("b", retimed(role(compiler.SidecarRole, nil, "b", "ratings", "reviews"), "reviews", 5*time.Second)))
	cs[0].none("a publish of the version serving")
}

// A client naming every resource of a type shares the type's names; unsubscribing one of them
// then stops its changes, and the others' still come.
func TestDeltaNamingEveryResource(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	c := dialDelta(t, p.XDSAddr(), "naming-all")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesSubscribe: []string{"ratings", "reviews"}})
	if got := resourceNames(c.next()); len(got) != 2 {
		t.Fatalf("first: %v", got)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNamesUnsubscribe: []string{"ratings"}})
	c.none("after unsubscribing") // and the stream has read the request before the publish
	b := retimed(a, "ratings", 3*time.Second)
	p.publish(snapshot("b", b))
	c.none("a change to the name unsubscribed")
	p.publish(snapshot("c", retimed(b, "reviews", 3*time.Second)))
	if got := resourceNames(c.next()); !slices.Equal(got, []string{"reviews"}) {
		t.Errorf("after reviews changed: %v, want [reviews]", got)
	}
}
