package schema

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// cacheSize bounds the files whose results are kept: a policy tree of this many files
// re-validates only what changed.
const cacheSize = 50_000

// cacheKey identifies a file's result: a SHA-256 of the options, the path and the content.
type cacheKey [sha256.Size]byte

func keyOf(f File, opts Options) cacheKey {
	h := sha256.New()
	flags := []byte{0}
	if opts.IgnoreUnknown {
		flags[0] = 1
	}
	h.Write(flags)
	h.Write([]byte(f.Path))
	h.Write([]byte{0})
	h.Write(f.Data)
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// resultCache is a least-recently-used cache of file results. A result is never modified once
// made, so trees loaded at different times share its documents safely.
type resultCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recently used first
	byKey map[cacheKey]*list.Element
}

type cacheEntry struct {
	key    cacheKey
	result *fileResult
}

var theCache = newResultCache(cacheSize)

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, order: list.New(), byKey: map[cacheKey]*list.Element{}}
}

func (c *resultCache) get(k cacheKey) (*fileResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).result, true
}

func (c *resultCache) put(k cacheKey, r *fileResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[k]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.byKey[k] = c.order.PushFront(&cacheEntry{key: k, result: r})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

// reset empties the cache; benchmarks of cold loads use it.
func (c *resultCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.byKey)
}
