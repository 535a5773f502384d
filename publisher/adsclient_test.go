package publisher

import (
	"context"
	"sort"
	"sync"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler"
)

// adsClient is a state-of-the-world ADS client that ACKs every response, or NACKs the types
// listed in nack.
type adsClient struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	nack      map[string]bool
	responses []*discovery.DiscoveryResponse
	applied   map[string]string // type URL -> last version ACKed
}

// dialADS connects as node id with labels and subscribes (wildcard, or to names when given)
// to each type.
func dialADS(t *testing.T, addr, id string, labels map[string]string, nack []string, subs map[string][]string) *adsClient {
	t.Helper()
	return dialADSAt(t, addr, id, nil, labels, nack, subs)
}

// nodeLabels is node metadata carrying labels, as signalbox proxies send them.
func nodeLabels(t *testing.T, labels map[string]string) *structpb.Struct {
	t.Helper()
	md := map[string]any{}
	for k, v := range labels {
		md[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{"labels": md})
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// dialADSAt is dialADS for a node that reports its locality.
func dialADSAt(t *testing.T, addr, id string, locality *core.Locality, labels map[string]string, nack []string, subs map[string][]string) *adsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		cancel()
		conn.Close()
		t.Fatal(err)
	}
	c := &adsClient{t: t, cancel: cancel, done: make(chan struct{}), nack: map[string]bool{}, applied: map[string]string{}}
	for _, typ := range nack {
		c.nack[typ] = true
	}
	node := &core.Node{Id: id, Metadata: nodeLabels(t, labels), Locality: locality}
	if subs == nil {
		subs = map[string][]string{}
		for _, typ := range compiler.ResourceTypes {
			subs[typ] = nil
		}
	}
	for _, typ := range compiler.ResourceTypes {
		names, ok := subs[typ]
		if !ok {
			continue
		}
		if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: typ, ResourceNames: names}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(c.done)
		defer conn.Close()
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.responses = append(c.responses, resp)
			req := &discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce, ResourceNames: subs[resp.TypeUrl]}
			if c.nack[resp.TypeUrl] {
				req.VersionInfo = c.applied[resp.TypeUrl]
				req.ErrorDetail = &status.Status{Code: 3, Message: "rejected " + resp.VersionInfo + " on purpose"}
			} else {
				req.VersionInfo = resp.VersionInfo
				c.applied[resp.TypeUrl] = resp.VersionInfo
			}
			c.mu.Unlock()
			if err := stream.Send(req); err != nil {
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *adsClient) close() {
	c.cancel()
	<-c.done
}

// count is the number of responses received so far, per type URL.
func (c *adsClient) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[string]int{}
	for _, r := range c.responses {
		n[r.TypeUrl]++
	}
	return n
}

func (c *adsClient) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.responses)
}

// last is the newest response of a type, or nil.
func (c *adsClient) last(typeURL string) *discovery.DiscoveryResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.responses) - 1; i >= 0; i-- {
		if c.responses[i].TypeUrl == typeURL {
			return c.responses[i]
		}
	}
	return nil
}

// names decodes the resource names of a response, sorted.
func names(t *testing.T, resp *discovery.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range resp.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		switch r := m.(type) {
		case *clusterv3.Cluster:
			out = append(out, r.Name)
		case *endpointv3.ClusterLoadAssignment:
			out = append(out, r.ClusterName)
		case *listenerv3.Listener:
			out = append(out, r.Name)
		case *routev3.RouteConfiguration:
			out = append(out, r.Name)
		}
	}
	sort.Strings(out) // the cache sends resources in map order
	return out
}
