package publisher

import (
	"sync"
	"sync/atomic"
)

// sharedCache tells the xDS streams of each node the preparedRole the node is served
// (setNode). Every response is assembled from that role's pre-serialized resources, so a
// publish serializes each resource once however many streams receive it; each stream works
// out what to send itself (sotw.go, delta.go), in its own goroutine, so a publish costs the
// publisher one wake-up per stream.
type sharedCache struct {
	mu    sync.Mutex
	nodes map[string]*cacheNode
}

type cacheNode struct {
	role    *preparedRole
	streams map[*roleWatch]struct{}
}

func newSharedCache() *sharedCache {
	return &sharedCache{nodes: map[string]*cacheNode{}}
}

func (c *sharedCache) nodeLocked(id string) *cacheNode {
	n := c.nodes[id]
	if n == nil {
		n = &cacheNode{streams: map[*roleWatch]struct{}{}}
		c.nodes[id] = n
	}
	return n
}

// setNode assigns a role's configuration to a node and wakes its streams.
func (c *sharedCache) setNode(id string, r *preparedRole) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(id)
	n.role = r
	for w := range n.streams {
		w.set(r)
	}
}

// addStream registers a stream of a node and gives it the node's role, if it has one.
func (c *sharedCache) addStream(id string, w *roleWatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(id)
	n.streams[w] = struct{}{}
	if n.role != nil {
		w.set(n.role)
	}
}

// removeStream forgets a closed stream.
func (c *sharedCache) removeStream(id string, w *roleWatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[id]; n != nil {
		delete(n.streams, w)
	}
}

// clearNode forgets a node whose streams have all closed.
func (c *sharedCache) clearNode(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, id)
}

// roleWatch is a stream's view of its node's role: the cache sets it and wakes the stream.
type roleWatch struct {
	role atomic.Pointer[preparedRole]
	wake chan struct{} // one pending wake-up is enough: the stream reads the latest role
}

func (w *roleWatch) init() { w.wake = make(chan struct{}, 1) }

func (w *roleWatch) set(r *preparedRole) {
	w.role.Store(r)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// current is the prepared type of the node's role, or nil (no role yet, or a type the
// publisher does not serve).
func (w *roleWatch) current(typeURL string) *preparedType {
	r := w.role.Load()
	if r == nil {
		return nil
	}
	return r.types[typeURL]
}
