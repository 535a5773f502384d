// Package xdsbench measures xDS fan-out: it connects many real ADS clients (state-of-the-world
// or delta, over gRPC on loopback) to a publisher, commits a one-route change to a real git
// repository, and times the commit until every client has ACKed the new configuration. It runs
// the same clients against go-control-plane's plain SnapshotCache for comparison.
//
// Client is also a small reconnecting ADS client for tests: it resumes a stream with the
// versions it holds, as a proxy does, so a test can check what a publisher re-sends.
package xdsbench

import (
	"context"
	"maps"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler"
)

// Client is one ADS client (one node). It subscribes to every type (wildcard, unless Names
// lists names for it), ACKs every response, and on a broken stream reconnects with what it
// holds: version_info per type (SotW) or initial_resource_versions (delta).
type Client struct {
	NodeID string
	Labels map[string]string
	Delta  bool
	// Names are the resource names to subscribe to per type URL, as Envoy asks for routes and
	// endpoints by name; a type not listed is subscribed to whole (wildcard).
	Names map[string][]string
	// Forget keeps no per-resource versions (delta), so a reconnect starts from nothing. The
	// benchmark's clients forget: they share the server's process, and what they would hold
	// would be counted as the server's heap.
	Forget bool
	// OnApply, if set, is called after each ACK with the type and version applied.
	OnApply func(c *Client, typeURL, version string)

	mu        sync.Mutex
	versions  map[string]string            // type URL -> version ACKed
	resources map[string]map[string]string // delta: type URL -> name -> version
	stats     Stats
}

// Stats counts what a client received.
type Stats struct {
	Responses map[string]int // per type URL
	Resources int            // resources received (delta: changed ones)
	Bytes     int64          // serialized size of every response
	Streams   int            // streams opened
}

// Versions is the version ACKed per type URL (for delta, the system version of the last
// response ACKed).
func (c *Client) Versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.versions)
}

// Stats returns a copy of the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Responses = maps.Clone(s.Responses)
	return s
}

// DialOptions are the options a connection for clients needs: they read responses at the
// wire level (wire.go), and at 10,000 services one RouteConfiguration exceeds gRPC's 4 MiB
// default receive limit.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newClientCodec()), grpc.MaxCallRecvMsgSize(1<<30))}
}

// Run keeps a stream open on conn (dialled with DialOptions) until ctx ends, reconnecting
// after failures.
func (c *Client) Run(ctx context.Context, conn *grpc.ClientConn) {
	c.mu.Lock()
	if c.versions == nil {
		c.versions = map[string]string{}
		c.resources = map[string]map[string]string{}
		c.stats.Responses = map[string]int{}
	}
	c.mu.Unlock()
	for ctx.Err() == nil {
		var err error
		if c.Delta {
			err = c.runDelta(ctx, conn)
		} else {
			err = c.runSotw(ctx, conn)
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Client) node() *core.Node {
	md := map[string]any{}
	for k, v := range c.Labels {
		md[k] = v
	}
	meta, _ := structpb.NewStruct(map[string]any{"labels": md})
	return &core.Node{Id: c.NodeID, Metadata: meta}
}

func (c *Client) runSotw(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.stats.Streams++
	node := c.node()
	var first []*discovery.DiscoveryRequest
	for _, t := range compiler.ResourceTypes {
		first = append(first, &discovery.DiscoveryRequest{Node: node, TypeUrl: t, VersionInfo: c.versions[t], ResourceNames: c.Names[t]})
		node = nil
	}
	c.mu.Unlock()
	for _, req := range first {
		if err := s.Send(req); err != nil {
			return err
		}
	}
	for {
		var raw rawMessage
		if err := s.RecvMsg(&raw); err != nil {
			return err
		}
		resp := raw.resp
		c.mu.Lock()
		c.countLocked(resp.typeURL, resp.resources, resp.size)
		c.versions[resp.typeURL] = resp.version
		c.mu.Unlock()
		ack := &discovery.DiscoveryRequest{TypeUrl: resp.typeURL, VersionInfo: resp.version, ResponseNonce: resp.nonce, ResourceNames: c.Names[resp.typeURL]}
		if err := s.Send(ack); err != nil {
			return err
		}
		if c.OnApply != nil {
			c.OnApply(c, resp.typeURL, resp.version)
		}
	}
}

// countLocked records one response in the stats; c.mu must be held.
func (c *Client) countLocked(typeURL string, resources, size int) {
	c.stats.Responses[typeURL]++
	c.stats.Resources += resources
	c.stats.Bytes += int64(size)
}

func (c *Client) runDelta(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.stats.Streams++
	node := c.node()
	var first []*discovery.DeltaDiscoveryRequest
	for _, t := range compiler.ResourceTypes {
		first = append(first, &discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: t, ResourceNamesSubscribe: c.Names[t],
			InitialResourceVersions: maps.Clone(c.resources[t])})
		node = nil
	}
	c.mu.Unlock()
	for _, req := range first {
		if err := s.Send(req); err != nil {
			return err
		}
	}
	for {
		raw := rawMessage{delta: true, track: !c.Forget}
		if err := s.RecvMsg(&raw); err != nil {
			return err
		}
		resp := raw.resp
		c.mu.Lock()
		c.countLocked(resp.typeURL, resp.resources, resp.size)
		if !c.Forget {
			held := c.resources[resp.typeURL]
			if held == nil {
				held = map[string]string{}
				c.resources[resp.typeURL] = held
			}
			maps.Copy(held, resp.resourceVersions)
			for name := range resp.removed {
				delete(held, name)
			}
		}
		c.versions[resp.typeURL] = resp.version
		c.mu.Unlock()
		if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.typeURL, ResponseNonce: resp.nonce}); err != nil {
			return err
		}
		if c.OnApply != nil {
			c.OnApply(c, resp.typeURL, resp.version)
		}
	}
}
