package publisher

import (
	"context"
	"errors"
	"slices"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// sharedCache is the cache.Cache the xDS servers answer from. Each node is assigned a
// preparedRole (setNode); every response is assembled from that role's pre-serialized
// resources, so a publish serializes each resource once however many streams receive it.
//
// Watches follow go-control-plane's contract: a watch is answered at most once, on the channel
// the stream server gave it, and is then gone; the server makes a new one on the next request.
// A SotW watch is answered when the request's version differs from the role's version of that
// type, or when it names a resource it was not sent yet; a delta watch when any resource it
// follows has bytes the stream was not sent, or went away.
type sharedCache struct {
	mu    sync.Mutex
	nodes map[string]*cacheNode
}

var _ cache.Cache = (*sharedCache)(nil)

type cacheNode struct {
	role  *preparedRole
	sotw  map[*sotwWatch]struct{}
	delta map[*deltaWatch]struct{}
}

type sotwWatch struct {
	req *cache.Request
	sub cache.Subscription
	ch  chan cache.Response
}

type deltaWatch struct {
	req *cache.DeltaRequest
	sub cache.Subscription
	ch  chan cache.DeltaResponse
}

func newSharedCache() *sharedCache {
	return &sharedCache{nodes: map[string]*cacheNode{}}
}

func (c *sharedCache) nodeLocked(id string) *cacheNode {
	n := c.nodes[id]
	if n == nil {
		n = &cacheNode{sotw: map[*sotwWatch]struct{}{}, delta: map[*deltaWatch]struct{}{}}
		c.nodes[id] = n
	}
	return n
}

// setNode assigns a role's configuration to a node and answers its open watches that it
// changes.
func (c *sharedCache) setNode(id string, r *preparedRole) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(id)
	n.role = r
	for w := range n.sotw {
		if resp := sotwResponse(r, w.req, w.sub); resp != nil {
			delete(n.sotw, w)
			sendSotw(w.ch, resp)
		}
	}
	for w := range n.delta {
		if resp := deltaResponse(r, w.req, w.sub); resp != nil {
			delete(n.delta, w)
			sendDelta(w.ch, resp)
		}
	}
}

// clearNode forgets a node whose streams have all closed.
func (c *sharedCache) clearNode(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, id)
}

// The stream servers size their response channels so a stream's single watch per type can
// always be answered without blocking: one buffered slot per type (ADS) or per watch. The
// select only keeps a broken invariant from wedging every publish behind one stream.
func sendSotw(ch chan cache.Response, r cache.Response) {
	select {
	case ch <- r:
	default:
	}
}

func sendDelta(ch chan cache.DeltaResponse, r cache.DeltaResponse) {
	select {
	case ch <- r:
	default:
	}
}

func (c *sharedCache) CreateWatch(req *cache.Request, sub cache.Subscription, ch chan cache.Response) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(req.GetNode().GetId())
	if n.role != nil {
		if resp := sotwResponse(n.role, req, sub); resp != nil {
			sendSotw(ch, resp)
			return func() {}, nil
		}
	}
	w := &sotwWatch{req: req, sub: sub, ch: ch}
	n.sotw[w] = struct{}{}
	return func() {
		c.mu.Lock()
		delete(n.sotw, w)
		c.mu.Unlock()
	}, nil
}

func (c *sharedCache) CreateDeltaWatch(req *cache.DeltaRequest, sub cache.Subscription, ch chan cache.DeltaResponse) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(req.GetNode().GetId())
	if n.role != nil {
		if resp := deltaResponse(n.role, req, sub); resp != nil {
			sendDelta(ch, resp)
			return func() {}, nil
		}
	}
	w := &deltaWatch{req: req, sub: sub, ch: ch}
	n.delta[w] = struct{}{}
	return func() {
		c.mu.Lock()
		delete(n.delta, w)
		c.mu.Unlock()
	}, nil
}

// Fetch is the REST polling API, which the publisher does not serve.
func (c *sharedCache) Fetch(context.Context, *cache.Request) (cache.Response, error) {
	return nil, errors.New("fetch is not supported: use ADS")
}

// sotwResponse answers a SotW request from r, or returns nil when the stream already has what
// it asks for. The response is a new message (the stream server writes its nonce into it) over
// the shared serialized resources.
func sotwResponse(r *preparedRole, req *cache.Request, sub cache.Subscription) cache.Response {
	typeURL := req.GetTypeUrl()
	pt := r.types[typeURL]
	if pt == nil {
		return nil // a type the publisher does not serve: the watch stays open, unanswered
	}
	if sub.IsWildcard() {
		if req.GetVersionInfo() == pt.version {
			return nil
		}
		return &cache.PassthroughResponse{
			Request:           req,
			DiscoveryResponse: &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all, TypeUrl: typeURL},
		}
	}
	// A client naming resources (gRPC does) is sent those of them that exist.
	names := sub.SubscribedResources()
	returned := sub.ReturnedResources()
	changed := req.GetVersionInfo() != pt.version
	for name := range names {
		if changed {
			break
		}
		if _, ok := pt.byKey[name]; ok {
			if _, sent := returned[name]; !sent {
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	var idx []int
	for name := range names {
		if i, ok := pt.byKey[name]; ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	res := make([]*anypb.Any, len(idx))
	next := make(map[string]string, len(idx))
	for j, i := range idx {
		res[j] = pt.all[i]
		next[pt.names[i]] = pt.version
	}
	return &cache.PassthroughResponse{
		Request:           req,
		DiscoveryResponse: &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: res, TypeUrl: typeURL},
		ReturnedResources: next,
	}
}

// deltaResponse answers a delta request from r with the resources whose bytes the stream has
// not been sent and the names that went away, or returns nil when there are none (except for
// the first wildcard request of a type, which is always answered so the client can finish
// initialising).
func deltaResponse(r *preparedRole, req *cache.DeltaRequest, sub cache.Subscription) cache.DeltaResponse {
	typeURL := req.GetTypeUrl()
	pt := r.types[typeURL]
	if pt == nil {
		return nil
	}
	returned := sub.ReturnedResources()
	var (
		changed []*discovery.Resource
		removed []string
		next    map[string]string
	)
	if sub.IsWildcard() {
		next = make(map[string]string, len(pt.delta))
		for _, res := range pt.delta {
			next[res.Name] = res.Version
			if prev, ok := returned[res.Name]; !ok || prev != res.Version {
				changed = append(changed, res)
			}
		}
		for name := range returned {
			if _, ok := pt.byKey[name]; !ok {
				removed = append(removed, name)
			}
		}
	} else {
		next = make(map[string]string, len(sub.SubscribedResources()))
		var idx []int
		for name := range sub.SubscribedResources() {
			i, ok := pt.byKey[name]
			prev, sent := returned[name]
			switch {
			case ok:
				next[name] = pt.delta[i].Version
				if !sent || prev != pt.delta[i].Version {
					idx = append(idx, i)
				}
			case sent:
				removed = append(removed, name)
			}
		}
		slices.Sort(idx)
		for _, i := range idx {
			changed = append(changed, pt.delta[i])
		}
	}
	first := sub.IsWildcard() && req.GetResponseNonce() == ""
	if len(changed) == 0 && len(removed) == 0 && !first {
		return nil
	}
	slices.Sort(removed)
	return &cache.DeltaPassthroughResponse{
		DeltaRequest:   req,
		NextVersionMap: next,
		DeltaDiscoveryResponse: &discovery.DeltaDiscoveryResponse{
			SystemVersionInfo: pt.version,
			Resources:         changed,
			RemovedResources:  removed,
			TypeUrl:           typeURL,
		},
	}
}
