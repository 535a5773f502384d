package publisher

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/compiler"
)

// withRoutes is r with one RouteConfiguration per name, each with a virtual host named by
// its tag: changing one tag changes that route configuration's bytes only.
func withRoutes(r *compiler.Role, tags map[string]string) *compiler.Role {
	r = cloneRole(r)
	r.Resources[resource.RouteType] = nil
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		r.Resources[resource.RouteType] = append(r.Resources[resource.RouteType], &routev3.RouteConfiguration{Name: name,
			VirtualHosts: []*routev3.VirtualHost{{Name: tags[name], Domains: []string{name}}}})
	}
	setVersions(r)
	return r
}

// sotwClient is a raw state-of-the-world ADS stream.
type sotwClient struct {
	t      *testing.T
	node   *core.Node
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	resps  chan *discovery.DiscoveryResponse
}

func dialSotw(t *testing.T, addr, id string) *sotwClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		cancel()
		conn.Close()
		t.Fatal(err)
	}
	c := &sotwClient{t: t, node: &core.Node{Id: id}, stream: stream, resps: make(chan *discovery.DiscoveryResponse, 100)}
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

func (c *sotwClient) send(req *discovery.DiscoveryRequest) {
	c.t.Helper()
	if c.node != nil {
		req.Node, c.node = c.node, nil
	}
	if err := c.stream.Send(req); err != nil {
		c.t.Fatal(err)
	}
}

// next waits for a response and ACKs it, naming names.
func (c *sotwClient) next(names ...string) *discovery.DiscoveryResponse {
	c.t.Helper()
	select {
	case resp := <-c.resps:
		c.send(&discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: names})
		return resp
	case <-time.After(5 * time.Second):
		c.t.Fatal("no response in 5s")
		return nil
	}
}

func (c *sotwClient) none(what string) {
	c.t.Helper()
	select {
	case resp := <-c.resps:
		c.t.Errorf("%s: got a %s response with %v; want none", what, resp.TypeUrl, names(c.t, resp))
	case <-time.After(300 * time.Millisecond):
	}
}

// A client asking for routes by name is sent, after a change of one of them, that one only,
// with the new version; a new route version none of its routes changed in is sent with no
// resources, and ACKing it puts the proxy in sync.
func TestSotwNamedRoutesOnlyChanged(t *testing.T) {
	base := role(compiler.SidecarRole, nil, "a", "reviews")
	a := withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a"})
	p := startServing(t, snapshot("a", a))
	c := dialSotw(t, p.XDSAddr(), "named-routes")
	routes := []string{"r1", "r2", "r3"}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: routes})
	if got := names(t, c.next(routes...)); !slices.Equal(got, routes) {
		t.Fatalf("first: %v", got)
	}

	b := withRoutes(base, map[string]string{"r1": "a", "r2": "b", "r3": "a"})
	p.publish(snapshot("b", b))
	resp := c.next(routes...)
	if got := names(t, resp); !slices.Equal(got, []string{"r2"}) || resp.VersionInfo != b.Versions[resource.RouteType] {
		t.Errorf("after r2 changed: %v at %s, want [r2] at %s", got, resp.VersionInfo, b.Versions[resource.RouteType])
	}

	// r4, not asked for, appears: a new version, nothing to send.
	d := withRoutes(base, map[string]string{"r1": "a", "r2": "b", "r3": "a", "r4": "a"})
	sd := snapshot("d", d)
	p.publish(sd)
	resp = c.next(routes...)
	if len(resp.Resources) != 0 || resp.VersionInfo != d.Versions[resource.RouteType] {
		t.Errorf("after an unnamed route appeared: %v at %s, want none at %s", names(t, resp), resp.VersionInfo, d.Versions[resource.RouteType])
	}
	eventually(t, "the proxy's ACK of the new route version", func() bool {
		px, _ := proxyStatus(p, "named-routes")
		return px.Acked[resource.RouteType] == d.Versions[resource.RouteType]
	})

	// Asking for r4 as well sends r4 only.
	more := append(slices.Clone(routes), "r4")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: more})
	if got := names(t, c.next(more...)); !slices.Equal(got, []string{"r4"}) {
		t.Errorf("after asking for r4: %v, want [r4]", got)
	}
}

// Listener and Cluster responses carry every resource asked for, changed or not.
func TestSotwNamedClustersWhole(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "ratings", "reviews")
	p := startServing(t, snapshot("a", a))
	c := dialSotw(t, p.XDSAddr(), "named-clusters")
	clusters := []string{"ratings", "reviews"}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, ResourceNames: clusters})
	c.next(clusters...)
	p.publish(snapshot("b", retimed(a, "ratings", 3*time.Second)))
	if got := names(t, c.next(clusters...)); !slices.Equal(got, clusters) {
		t.Errorf("after ratings changed: %v, want both", got)
	}
}

// A client resuming a stream at the version serving is sent nothing, then only what changes
// or what it asks for anew.
func TestSotwResumeAtVersionServing(t *testing.T) {
	base := role(compiler.SidecarRole, nil, "a", "reviews")
	a := withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a"})
	p := startServing(t, snapshot("a", a))
	c := dialSotw(t, p.XDSAddr(), "resuming")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: a.Versions[resource.RouteType], ResourceNames: []string{"r1", "r2"}})
	c.none("resumed at the version serving")

	// Asking for r3 too (no response yet on this stream, so no nonce).
	all := []string{"r1", "r2", "r3"}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: a.Versions[resource.RouteType], ResourceNames: all})
	if got := names(t, c.next(all...)); !slices.Equal(got, []string{"r3"}) {
		t.Errorf("after asking for r3: %v, want [r3]", got)
	}
	p.publish(snapshot("b", withRoutes(base, map[string]string{"r1": "b", "r2": "a", "r3": "a"})))
	if got := names(t, c.next(all...)); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("after r1 changed: %v, want [r1]", got)
	}
}

// Two roles with the same clusters share a cluster version, and a publish may give a role
// either's prepared type for it: a wildcard client is not sent clusters again for that, only
// the routes that changed.
func TestSotwSameVersionOtherPreparedType(t *testing.T) {
	gw := map[string]string{"istio": "ingressgateway"}
	snap := func(tag string) *compiler.Snapshot {
		return snapshot(tag, role(compiler.SidecarRole, nil, tag, "ratings", "reviews"), role("gateway/istio=ingressgateway", gw, tag, "ratings", "reviews"))
	}
	p := startServing(t, snap("a"))
	c := dialSotw(t, p.XDSAddr(), "same-version")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	c.next()
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType})
	c.next()
	for _, tag := range []string{"b", "c", "d", "e", "f", "g"} {
		p.publish(snap(tag))
		if resp := c.next(); resp.TypeUrl != resource.RouteType {
			t.Fatalf("publish %s: sent %s, want routes only", tag, resp.TypeUrl)
		}
	}
	c.none("after the last publish")
}

// A wildcard subscriber to routes is sent only the route configurations that changed: the
// protocol groups route responses as delta xDS does, and full state is for listeners,
// clusters and scopes.
func TestSotwWildcardRoutesOnlyChanged(t *testing.T) {
	base := role(compiler.SidecarRole, nil, "a", "reviews")
	p := startServing(t, snapshot("a", withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a"})))
	c := dialSotw(t, p.XDSAddr(), "wildcard-routes")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType})
	if got := names(t, c.next()); !slices.Equal(got, []string{"r1", "r2", "r3"}) {
		t.Fatalf("first: %v", got)
	}
	b := withRoutes(base, map[string]string{"r1": "a", "r2": "b", "r3": "a", "r4": "a"})
	p.publish(snapshot("b", b))
	resp := c.next()
	if got := names(t, resp); !slices.Equal(got, []string{"r2", "r4"}) || resp.VersionInfo != b.Versions[resource.RouteType] {
		t.Errorf("after r2 changed and r4 appeared: %v at %s, want [r2 r4] at %s", got, resp.VersionInfo, b.Versions[resource.RouteType])
	}
	// Back to a version the client held before: the routes that differ from what it holds.
	p.publish(snapshot("c", withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a", "r4": "a"})))
	if got := names(t, c.next()); !slices.Equal(got, []string{"r2"}) {
		t.Errorf("after r2 reverted: %v, want [r2]", got)
	}
}

// After a NACK the client still runs what it held before the refused response: the next
// version sends it everything it asks for, not the changes from what it refused (which would
// leave it without the refused response's good part).
func TestSotwAfterNACKNextVersionWhole(t *testing.T) {
	base := role(compiler.SidecarRole, nil, "a", "reviews")
	p := startServing(t, snapshot("a", withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a"})))
	for _, wildcard := range []bool{false, true} {
		c := dialSotw(t, p.XDSAddr(), fmt.Sprintf("nack-then-whole-%v", wildcard))
		routes := []string{"r1", "r2", "r3"}
		if wildcard {
			routes = nil
		}
		c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: routes})
		c.next(routes...)

		// r1 and r2 change; the client refuses the response (r2, say, is bad).
		p.publish(snapshot("b", withRoutes(base, map[string]string{"r1": "b", "r2": "bad", "r3": "a"})))
		var resp *discovery.DiscoveryResponse
		select {
		case resp = <-c.resps:
		case <-time.After(5 * time.Second):
			t.Fatal("no response to the change")
		}
		c.send(&discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: "", ResponseNonce: resp.Nonce,
			ResourceNames: routes, ErrorDetail: &status.Status{Code: 3, Message: "r2 refused"}})
		c.none("after the NACK")

		// r2 is fixed: the client still holds the old r1, so r1 comes again with r2 and r3.
		p.publish(snapshot("c", withRoutes(base, map[string]string{"r1": "b", "r2": "c", "r3": "a"})))
		if got := names(t, c.next(routes...)); !slices.Equal(got, []string{"r1", "r2", "r3"}) {
			t.Errorf("wildcard %v: after the fix: %v, want [r1 r2 r3]", wildcard, got)
		}
		p.publish(snapshot("d", withRoutes(base, map[string]string{"r1": "d", "r2": "c", "r3": "a"})))
		if got := names(t, c.next(routes...)); !slices.Equal(got, []string{"r1"}) {
			t.Errorf("wildcard %v: after r1 changed once more: %v, want [r1]", wildcard, got)
		}
		p.publish(snapshot("a", withRoutes(base, map[string]string{"r1": "a", "r2": "a", "r3": "a"})))
		c.next(routes...)
	}
}
