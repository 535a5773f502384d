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
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler"
)

// Client is one ADS client (one node). It subscribes to every type (wildcard), ACKs every
// response, and on a broken stream reconnects with what it holds: version_info per type
// (SotW) or initial_resource_versions (delta).
type Client struct {
	NodeID string
	Labels map[string]string
	Delta  bool
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

// Run keeps a stream open on conn until ctx ends, reconnecting after failures.
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
		first = append(first, &discovery.DiscoveryRequest{Node: node, TypeUrl: t, VersionInfo: c.versions[t]})
		node = nil
	}
	c.mu.Unlock()
	for _, req := range first {
		if err := s.Send(req); err != nil {
			return err
		}
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.stats.Responses[resp.TypeUrl]++
		c.stats.Resources += len(resp.Resources)
		c.stats.Bytes += int64(proto.Size(resp))
		c.versions[resp.TypeUrl] = resp.VersionInfo
		c.mu.Unlock()
		if err := s.Send(&discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
			return err
		}
		if c.OnApply != nil {
			c.OnApply(c, resp.TypeUrl, resp.VersionInfo)
		}
	}
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
		first = append(first, &discovery.DeltaDiscoveryRequest{Node: node, TypeUrl: t, InitialResourceVersions: maps.Clone(c.resources[t])})
		node = nil
	}
	c.mu.Unlock()
	for _, req := range first {
		if err := s.Send(req); err != nil {
			return err
		}
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.stats.Responses[resp.TypeUrl]++
		c.stats.Resources += len(resp.Resources)
		c.stats.Bytes += int64(proto.Size(resp))
		held := c.resources[resp.TypeUrl]
		if held == nil {
			held = map[string]string{}
			c.resources[resp.TypeUrl] = held
		}
		for _, r := range resp.Resources {
			held[r.Name] = r.Version
		}
		for _, name := range resp.RemovedResources {
			delete(held, name)
		}
		c.versions[resp.TypeUrl] = resp.SystemVersionInfo
		c.mu.Unlock()
		if err := s.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}); err != nil {
			return err
		}
		if c.OnApply != nil {
			c.OnApply(c, resp.TypeUrl, resp.SystemVersionInfo)
		}
	}
}
