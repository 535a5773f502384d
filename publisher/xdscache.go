package publisher

import (
	"context"
	"errors"
	"sync"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// sharedCache is the cache.Cache the xDS servers answer from. Each node is assigned a
// preparedRole (setNode); every response is assembled from that role's pre-serialized
// resources, so a publish serializes each resource once however many streams receive it.
//
// SotW watches follow go-control-plane's contract: a watch is answered at most once, on the
// channel the stream server gave it, and is then gone; the server makes a new one on the next
// request. A SotW watch is answered when the request's version differs from the role's version
// of that type, or when it names a resource it was not sent yet (sotw.go). Delta streams are
// the publisher's own (delta.go): the cache tells them their node's role and they work out
// what to send themselves.
type sharedCache struct {
	mu    sync.Mutex
	nodes map[string]*cacheNode
}

var _ cache.Cache = (*sharedCache)(nil)

type cacheNode struct {
	role  *preparedRole
	sotw  map[*sotwWatch]struct{}
	delta map[*deltaStream]struct{}
}

type sotwWatch struct {
	req *cache.Request
	sub cache.Subscription
	ch  chan cache.Response
}

func newSharedCache() *sharedCache {
	return &sharedCache{nodes: map[string]*cacheNode{}}
}

func (c *sharedCache) nodeLocked(id string) *cacheNode {
	n := c.nodes[id]
	if n == nil {
		n = &cacheNode{sotw: map[*sotwWatch]struct{}{}, delta: map[*deltaStream]struct{}{}}
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
	for s := range n.delta {
		s.setRole(r)
	}
}

// addDelta registers a delta stream of a node and gives it the node's role, if it has one.
func (c *sharedCache) addDelta(id string, s *deltaStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(id)
	n.delta[s] = struct{}{}
	if n.role != nil {
		s.setRole(n.role)
	}
}

// removeDelta forgets a closed delta stream.
func (c *sharedCache) removeDelta(id string, s *deltaStream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil {
		delete(n.delta, s)
	}
}

// clearNode forgets a node whose streams have all closed.
func (c *sharedCache) clearNode(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, id)
}

// The SotW stream server sizes its response channel so a stream's single watch per type can
// always be answered without blocking: one buffered slot per type. The select only keeps a
// broken invariant from wedging every publish behind one stream.
func sendSotw(ch chan cache.Response, r cache.Response) {
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

// CreateDeltaWatch is never called: delta streams are served by deltaServer.
func (c *sharedCache) CreateDeltaWatch(*cache.DeltaRequest, cache.Subscription, chan cache.DeltaResponse) (func(), error) {
	return nil, errors.New("delta xDS is served by the publisher's own stream loop")
}

// Fetch is the REST polling API, which the publisher does not serve.
func (c *sharedCache) Fetch(context.Context, *cache.Request) (cache.Response, error) {
	return nil, errors.New("fetch is not supported: use ADS")
}
