package proxy

import (
	"math/rand/v2"
	"sync/atomic"
)

// cluster is the live form of a clusterConfig. Its endpoint set is swapped atomically on EDS
// updates, so route tables (which point at clusters) are not rebuilt for endpoint churn, and
// the round-robin position survives both.
type cluster struct {
	cfg *clusterConfig
	eps atomic.Pointer[endpointSet]
	rr  atomic.Uint64
}

type endpoint struct {
	addr   string
	weight uint32
	active atomic.Int64 // requests in flight, for LEAST_REQUEST and /config
}

// endpointSet is immutable once stored.
type endpointSet struct {
	eps []*endpoint
	// sched is the weighted round-robin order (indices into eps), nil when all weights are
	// equal and plain rotation is exact.
	sched []uint32
	// cum holds cumulative weights for RANDOM.
	cum []uint64
}

// maxSchedule bounds the weighted round-robin schedule; larger weight sums are scaled down.
const maxSchedule = 4096

func newEndpointSet(cfg *endpointsConfig) *endpointSet {
	s := &endpointSet{}
	if cfg == nil {
		return s
	}
	equal := true
	var total uint64
	for i, e := range cfg.eps {
		s.eps = append(s.eps, &endpoint{addr: e.addr, weight: max(e.weight, 1)})
		total += uint64(max(e.weight, 1))
		s.cum = append(s.cum, total)
		if i > 0 && e.weight != cfg.eps[0].weight {
			equal = false
		}
	}
	if !equal {
		s.sched = smoothSchedule(s.eps, total)
	}
	return s
}

// smoothSchedule lays out one cycle of nginx's smooth weighted round robin, so heavy endpoints
// are interleaved with light ones rather than served in bursts.
func smoothSchedule(eps []*endpoint, total uint64) []uint32 {
	w := make([]int64, len(eps))
	var sum int64
	for i, e := range eps {
		w[i] = int64(e.weight)
		if total > maxSchedule {
			w[i] = max(1, int64(uint64(e.weight)*maxSchedule/total))
		}
		sum += w[i]
	}
	cur := make([]int64, len(eps))
	sched := make([]uint32, 0, sum)
	for range sum {
		best := 0
		for i := range cur {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		sched = append(sched, uint32(best))
	}
	return sched
}

// pick chooses an endpoint by the cluster's policy; nil means no healthy upstream.
func (c *cluster) pick() *endpoint {
	s := c.eps.Load()
	if s == nil || len(s.eps) == 0 {
		return nil
	}
	n := uint64(len(s.eps))
	if n == 1 {
		return s.eps[0]
	}
	switch c.cfg.lb {
	case lbRandom:
		x := rand.Uint64N(s.cum[len(s.cum)-1])
		for i, c := range s.cum {
			if x < c {
				return s.eps[i]
			}
		}
		return s.eps[n-1]
	case lbLeastRequest:
		// Power of two choices, Envoy's default for LEAST_REQUEST.
		i := rand.Uint64N(n)
		j := rand.Uint64N(n - 1)
		if j >= i {
			j++
		}
		a, b := s.eps[i], s.eps[j]
		if b.active.Load() < a.active.Load() {
			return b
		}
		return a
	default:
		k := c.rr.Add(1) - 1
		if s.sched != nil {
			return s.eps[s.sched[k%uint64(len(s.sched))]]
		}
		return s.eps[k%n]
	}
}
