package proxy

import (
	"math/bits"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// cluster is the live form of a clusterConfig. Its endpoint set is swapped atomically on EDS
// (or DNS) updates, so route tables (which point at clusters) are not rebuilt for endpoint
// churn, and the round-robin position survives both.
type cluster struct {
	cfg   *clusterConfig
	eps   atomic.Pointer[endpointSet]
	rr    atomic.Uint64
	stats *clusterStats

	// Circuit-breaker accounting.
	rq       atomic.Int64  // requests in flight
	pending  atomic.Int64  // requests waiting for a connection slot
	retries  atomic.Int64  // retries in flight
	connSem  chan struct{} // HTTP/1 connection slots when max_connections is set below the default
	tcpConns atomic.Int64  // TCP proxy connections open, when connSem does not count them

	// pool is the cluster's own connection pool when its options need one, else nil.
	pool *clusterPool
	stop chan struct{} // closed when the cluster is dropped (ends DNS refresh)
}

type endpoint struct {
	set    *endpointSet // the priority level it belongs to
	addr   string
	weight uint32
	active atomic.Int64 // requests in flight, for LEAST_REQUEST and /config

	// Outlier detection.
	cons5xx, consGateway atomic.Uint32
	ejections            atomic.Uint32
	ejectedUntil         atomic.Int64 // unix nanoseconds; 0 when not ejected
}

// endpointSet is immutable once stored (endpoints' counters aside).
type endpointSet struct {
	eps []*endpoint
	// sched is the weighted round-robin order (indices into eps), nil when all weights are
	// equal and plain rotation is exact, or when they total more than maxSchedule: then
	// round robin steps through the cumulative weights by stride instead.
	sched  []uint32
	stride uint64
	// cum holds cumulative weights for RANDOM.
	cum []uint64
	// ring (RING_HASH) and maglev (MAGLEV) are the consistent-hash tables.
	ring   []ringEntry
	maglev []uint32
	// localityEnd and localityWeight are the localities of a level under locality-weighted
	// balancing with more than one: where each one's endpoints end in eps, and its weight;
	// localitySched is the weighted round-robin order of them (indices into localityEnd), for
	// LEAST_REQUEST, which picks a locality first. nil otherwise.
	localityEnd    []uint32
	localityWeight []uint64
	localitySched  []uint32
	// ejected counts endpoints currently ejected by outlier detection.
	ejected atomic.Int32
	// next is the next priority level, which takes the traffic this one sheds as its endpoints
	// are ejected (choosePriority).
	next *endpointSet
}

// maxSchedule bounds the weighted round-robin schedule; larger weight sums are walked by a
// stride (strideFor) instead.
const maxSchedule = 4096

func newCluster(cfg *clusterConfig, stats *clusterStats) *cluster {
	c := &cluster{cfg: cfg, stats: stats, stop: make(chan struct{})}
	if cfg.limits.maxConnections < defaultThresholds.maxConnections && cfg.protocol == upstreamHTTP1 {
		c.connSem = make(chan struct{}, max(cfg.limits.maxConnections, 1))
	}
	if cfg.ownPool() {
		c.pool = newClusterPool(cfg)
	}
	return c
}

// close releases what a dropped cluster holds; requests in flight finish normally.
func (c *cluster) close() {
	close(c.stop)
	if c.pool != nil {
		c.pool.closeIdle()
	}
}

func (c *cluster) setEndpoints(cfg *endpointsConfig) {
	c.eps.Store(newEndpointSet(cfg, c.cfg))
}

func newEndpointSet(cfg *endpointsConfig, cc *clusterConfig) *endpointSet {
	if cfg == nil {
		return &endpointSet{}
	}
	s := newLevel(cfg.eps, cc)
	last := s
	for _, eps := range cfg.lower {
		last.next = newLevel(eps, cc)
		last = last.next
	}
	return s
}

// newLevel is the balancer state of one priority level. Under locality-weighted balancing its
// localities' weights are first folded into its endpoints' (foldLocalities).
func newLevel(eps []endpointConfig, cc *clusterConfig) *endpointSet {
	s := &endpointSet{}
	var localities []localityGroup
	if cc != nil && cc.localityWeighted {
		eps, localities = foldLocalities(eps)
	}
	equal := true
	var total uint64
	weights := make([]uint64, len(eps))
	for i, e := range eps {
		s.eps = append(s.eps, &endpoint{set: s, addr: e.addr, weight: max(e.weight, 1)})
		weights[i] = uint64(max(e.weight, 1))
		total += weights[i]
		s.cum = append(s.cum, total)
		if i > 0 && e.weight != eps[0].weight {
			equal = false
		}
	}
	switch {
	case equal:
	case total <= maxSchedule:
		s.sched = smoothSchedule(weights)
	default:
		s.stride = strideFor(total)
	}
	if len(localities) > 1 {
		for _, l := range localities {
			s.localityEnd = append(s.localityEnd, l.end)
			s.localityWeight = append(s.localityWeight, uint64(l.weight))
		}
	}
	if cc != nil && len(s.eps) > 0 {
		switch cc.lb {
		case lbRingHash:
			s.ring = buildRing(s.eps, cc.ringSize)
		case lbMaglev:
			s.maglev = buildMaglev(s.eps, cc.maglevSize)
		case lbLeastRequest:
			if s.localityWeight != nil {
				s.localitySched = smoothSchedule(s.localityWeight)
			}
		}
	}
	return s
}

// smoothSchedule lays out one cycle of nginx's smooth weighted round robin over the weights
// (one turn each per unit, scaled down when they total more than maxSchedule), so heavy
// entries are interleaved with light ones rather than served in bursts.
func smoothSchedule(weights []uint64) []uint32 {
	var total uint64
	for _, w := range weights {
		total += w
	}
	w := make([]int64, len(weights))
	var sum int64
	for i, wi := range weights {
		w[i] = int64(wi)
		if total > maxSchedule {
			w[i] = max(1, int64(wi*maxSchedule/total))
		}
		sum += w[i]
	}
	cur := make([]int64, len(weights))
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

// strideFor is round robin's step through weights that total more than one schedule holds:
// coprime with the total, so every run of total picks lands on each unit of weight once, and
// near the golden section of it, so consecutive picks fall far apart and heavy endpoints are
// interleaved with light ones.
func strideFor(total uint64) uint64 {
	s := max(1, uint64(float64(total)*0.6180339887498949))
	for gcd(s, total) != 1 {
		s++
	}
	return s
}

// pick chooses an endpoint by the cluster's policy with no hash and nothing to avoid.
func (c *cluster) pick() *endpoint {
	return c.pickFor(0, false, nil)
}

// pickFor chooses an endpoint: by hash for RING_HASH and MAGLEV when the request has one,
// avoiding endpoints ejected by outlier detection (unless the cluster is in panic) and, for a
// retry with the previous_hosts predicate, those already tried (up to tries re-selections).
// nil means no healthy upstream.
func (c *cluster) pickFor(hash uint64, hasHash bool, avoid []*endpoint) *endpoint {
	top := c.eps.Load()
	if top != nil && top.next != nil && top.ejected.Load() > 0 {
		// The first level is degraded and there are others: spread traffic over the levels
		// by their health, as Envoy does.
		if s := choosePriority(top, hash, hasHash); s != nil {
			if e := c.pickIn(s, hash, hasHash, avoid); e != nil {
				return e
			}
		}
	}
	for s := top; s != nil; s = s.next {
		// A level with no endpoint at all (a STRICT_DNS name that resolved to nothing) is
		// as unhealthy as one wholly ejected: the next takes its traffic, as in Envoy.
		if e := c.pickIn(s, hash, hasHash, avoid); e != nil || (s.ejected.Load() == 0 && len(s.eps) > 0) {
			return e
		}
	}
	return nil
}

// overprovisioning is Envoy's default overprovisioning factor, 1.4, in percent: a level counts
// as fully healthy while at least 1/1.4 (about 71%) of its endpoints are usable, and below that
// sheds the rest of its share of traffic to the levels after it.
const overprovisioning = 140

// maxLevels bounds the priority levels choosePriority weighs (Envoy allows 128; Istio's
// locality failover makes at most 5 per failover label, plus one).
const maxLevels = 32

// choosePriority is Envoy's priority load: each level's health is the share of its endpoints
// not ejected times the overprovisioning factor, capped at 100; levels take traffic in order,
// each as much as its health, until 100 (scaled up when all of them together have less). It
// draws the level by the request's hash when it has one, else at random; nil when no level has
// a usable endpoint.
func choosePriority(top *endpointSet, hash uint64, hasHash bool) *endpointSet {
	var (
		levels [maxLevels]*endpointSet
		health [maxLevels]uint64
		n      int
		total  uint64
	)
	now := time.Now().UnixNano()
	for s := top; s != nil && n < maxLevels; s = s.next {
		levels[n] = s
		if size := uint64(len(s.eps)); size > 0 {
			usable := size
			if s.ejected.Load() > 0 {
				for _, e := range s.eps {
					if s.isEjected(e, now) {
						usable--
					}
				}
			}
			health[n] = min(100, overprovisioning*usable/size)
		}
		total += health[n]
		n++
	}
	if total == 0 {
		return nil
	}
	norm := min(total, 100)
	draw := rand.Uint64N(100)
	if hasHash {
		draw = hash % 100
	}
	remaining := uint64(100)
	for i := range n {
		load := min(health[i]*100/norm, remaining)
		if draw < load {
			return levels[i]
		}
		draw -= load
		remaining -= load
	}
	// Rounding left the last points to no level: the last level with any health takes them.
	for i := n - 1; i >= 0; i-- {
		if health[i] > 0 {
			return levels[i]
		}
	}
	return nil
}

// pickIn chooses within one priority level; nil when it has no endpoint, or (outside panic)
// every one is ejected.
func (c *cluster) pickIn(s *endpointSet, hash uint64, hasHash bool, avoid []*endpoint) *endpoint {
	if len(s.eps) == 0 {
		return nil
	}
	n := len(s.eps)
	if n == 1 && len(avoid) == 0 {
		e := s.eps[0]
		if s.ejected.Load() == 0 || c.panic(s) || !s.isEjected(e, time.Now().UnixNano()) {
			return e
		}
		return nil
	}
	checkEjected := s.ejected.Load() > 0 && !c.panic(s)
	var now int64
	if checkEjected {
		now = time.Now().UnixNano()
	}
	usable := func(e *endpoint) bool {
		if checkEjected && s.isEjected(e, now) {
			return false
		}
		for _, a := range avoid {
			if a == e {
				return false
			}
		}
		return true
	}
	if !hasHash && (c.cfg.lb == lbRingHash || c.cfg.lb == lbMaglev) {
		hash, hasHash = rand.Uint64(), true // no key: a random point, as Envoy does
	}
	if checkEjected && !hasHash && s.localityWeight != nil {
		if e := c.pickByLocalityHealth(s, now, usable); e != nil {
			return e
		}
	}
	var first *endpoint
	for try := 0; try < 2*n+2; try++ {
		e := c.choose(s, hash+uint64(try)*0x9e3779b97f4a7c15*boolU64(try > 0), hasHash)
		if first == nil {
			first = e
		}
		if usable(e) {
			return e
		}
	}
	// Nothing usable by the policy's choices: any usable endpoint, else the first choice
	// for a retry whose other hosts are all spent (Envoy then reuses a previous host).
	for _, e := range s.eps {
		if usable(e) {
			return e
		}
	}
	if checkEjected {
		for _, e := range s.eps {
			if !s.isEjected(e, now) {
				return e
			}
		}
		return nil
	}
	return first
}

// pickByLocalityHealth is Envoy's choice of a locality in a level with ejected endpoints under
// locality-weighted balancing: each locality's weight is scaled by its health (the share of its
// endpoints not ejected times the overprovisioning factor, at most 1), a locality is drawn by
// those weights, then an endpoint within it among the usable ones (two choices for
// LEAST_REQUEST, else by weight). The folded weights alone would hand an ejected endpoint's
// share to the whole level instead. nil when nothing is usable this way.
func (c *cluster) pickByLocalityHealth(s *endpointSet, now int64, usable func(*endpoint) bool) *endpoint {
	eff := make([]uint64, len(s.localityEnd))
	var total uint64
	lo := uint32(0)
	for i, end := range s.localityEnd {
		healthy := uint64(0)
		for _, e := range s.eps[lo:end] {
			if !s.isEjected(e, now) {
				healthy++
			}
		}
		eff[i] = s.localityWeight[i] * min(100, overprovisioning*healthy/uint64(end-lo))
		total += eff[i]
		lo = end
	}
	if total == 0 {
		return nil
	}
	draw := rand.Uint64N(total)
	lo = 0
	for i, end := range s.localityEnd {
		if draw >= eff[i] {
			draw -= eff[i]
			lo = end
			continue
		}
		eps := s.eps[lo:end]
		if c.cfg.lb == lbLeastRequest {
			var best *endpoint
			for range max(c.cfg.choices, 1) {
				if e := eps[rand.IntN(len(eps))]; usable(e) && (best == nil || e.active.Load() < best.active.Load()) {
					best = e
				}
			}
			if best != nil {
				return best
			}
		}
		var sum uint64
		for _, e := range eps {
			if usable(e) {
				sum += uint64(e.weight)
			}
		}
		if sum == 0 {
			return nil
		}
		pick := rand.Uint64N(sum)
		for _, e := range eps {
			if !usable(e) {
				continue
			}
			if pick < uint64(e.weight) {
				return e
			}
			pick -= uint64(e.weight)
		}
	}
	return nil
}

func boolU64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// choose applies the load-balancing policy once.
func (c *cluster) choose(s *endpointSet, hash uint64, hasHash bool) *endpoint {
	n := uint64(len(s.eps))
	if n == 1 {
		return s.eps[0]
	}
	switch c.cfg.lb {
	case lbRingHash:
		if hasHash && len(s.ring) > 0 {
			return s.eps[ringLookup(s.ring, hash)]
		}
	case lbMaglev:
		if hasHash && len(s.maglev) > 0 {
			return s.eps[s.maglev[hash%uint64(len(s.maglev))]]
		}
	case lbRandom:
		x := rand.Uint64N(s.cum[len(s.cum)-1])
		for i, c := range s.cum {
			if x < c {
				return s.eps[i]
			}
		}
		return s.eps[n-1]
	case lbLeastRequest:
		// Power of (choice_count) choices, Envoy's LEAST_REQUEST for equal weights; under
		// locality-weighted balancing, among the endpoints of a locality picked by weight.
		lo, hi := uint64(0), n
		if s.localitySched != nil {
			l := s.localitySched[(c.rr.Add(1)-1)%uint64(len(s.localitySched))]
			if l > 0 {
				lo = uint64(s.localityEnd[l-1])
			}
			hi = uint64(s.localityEnd[l])
		}
		best := s.eps[lo+rand.Uint64N(hi-lo)]
		for k := 1; k < c.cfg.choices; k++ {
			e := s.eps[lo+rand.Uint64N(hi-lo)]
			if e.active.Load() < best.active.Load() {
				best = e
			}
		}
		return best
	}
	k := c.rr.Add(1) - 1
	if s.sched != nil {
		return s.eps[s.sched[k%uint64(len(s.sched))]]
	}
	if s.stride != 0 {
		total := s.cum[n-1]
		hi, lo := bits.Mul64(k%total, s.stride)
		i, _ := slices.BinarySearch(s.cum, bits.Rem64(hi, lo, total)+1)
		return s.eps[i]
	}
	return s.eps[k%n]
}

// panic reports Envoy's panic mode: when fewer than healthy_panic_threshold percent of the
// endpoints (across the priority levels from s down) are healthy, health is ignored and every
// endpoint of the level takes traffic.
func (c *cluster) panic(s *endpointSet) bool {
	if s.ejected.Load() == 0 || c.cfg.panicThreshold <= 0 {
		return false
	}
	var total, ejected int
	for l := s; l != nil; l = l.next {
		total += len(l.eps)
		ejected += int(l.ejected.Load())
	}
	healthy := float64(total-ejected) * 100 / float64(total)
	return healthy < c.cfg.panicThreshold
}

// isEjected reports whether e is ejected at now, returning an endpoint whose ejection time is
// over to service.
func (s *endpointSet) isEjected(e *endpoint, now int64) bool {
	until := e.ejectedUntil.Load()
	if until == 0 {
		return false
	}
	if now < until {
		return true
	}
	if e.ejectedUntil.CompareAndSwap(until, 0) {
		s.ejected.Add(-1)
	}
	return false
}

// report feeds outlier detection with one attempt's outcome: status is the upstream's code, or
// 0 for a local failure (connect error, reset, timeout), which counts as a gateway error.
func (c *cluster) report(e *endpoint, status int) {
	od := c.cfg.outlier
	if od == nil {
		return
	}
	s := e.set
	is5xx := status == 0 || status >= 500
	isGateway := status == 0 || (status >= 502 && status <= 504)
	if !is5xx {
		if e.cons5xx.Load() != 0 {
			e.cons5xx.Store(0)
		}
		if e.consGateway.Load() != 0 {
			e.consGateway.Store(0)
		}
		return
	}
	eject := false
	if n := e.cons5xx.Add(1); od.consecutive5xx > 0 && n >= od.consecutive5xx && chance(od.enforce5xx) {
		eject = true
	}
	if isGateway {
		if n := e.consGateway.Add(1); od.consecutiveGateway > 0 && n >= od.consecutiveGateway && chance(od.enforceGateway) {
			eject = true
		}
	} else {
		e.consGateway.Store(0)
	}
	if eject {
		c.eject(s, e, od)
	}
}

func chance(percent uint32) bool {
	return percent >= 100 || (percent > 0 && rand.Uint32N(100) < percent)
}

// eject takes e out of rotation for base_ejection_time times its ejection count (capped at
// max_ejection_time), unless max_ejection_percent of the cluster is already out.
func (c *cluster) eject(s *endpointSet, e *endpoint, od *outlierConfig) {
	now := time.Now().UnixNano()
	if s.isEjected(e, now) {
		return
	}
	if uint64(s.ejected.Load())*100 >= uint64(od.maxEjectionPercent)*uint64(len(s.eps)) {
		return
	}
	n := e.ejections.Add(1)
	d := min(od.baseEjection*time.Duration(n), od.maxEjection)
	if e.ejectedUntil.CompareAndSwap(0, now+int64(d)) {
		s.ejected.Add(1)
		e.cons5xx.Store(0)
		e.consGateway.Store(0)
		c.stats.ejections.Add(1)
	}
}

// overflow kinds, for the answer and the counters.
type overflowKind uint8

const (
	noOverflow overflowKind = iota
	overflowPending
	overflowRequests
)

// admit applies the circuit breakers to a new request. On success the caller must call
// release once the request is done.
func (c *cluster) admit(r *http.Request) overflowKind {
	lim := &c.cfg.limits
	n := c.rq.Add(1)
	if n > lim.maxRequests {
		c.rq.Add(-1)
		c.stats.rqOverflow.Add(1)
		return overflowRequests
	}
	if c.connSem != nil {
		select {
		case c.connSem <- struct{}{}:
			return noOverflow
		default:
		}
		if c.pending.Add(1) > lim.maxPending {
			c.pending.Add(-1)
			c.rq.Add(-1)
			c.stats.pendingOverflow.Add(1)
			return overflowPending
		}
		defer c.pending.Add(-1)
		select {
		case c.connSem <- struct{}{}:
			return noOverflow
		case <-r.Context().Done():
			c.rq.Add(-1)
			return overflowPending
		}
	}
	if c.cfg.protocol == upstreamHTTP1 && n > lim.maxConnections+lim.maxPending {
		c.rq.Add(-1)
		c.stats.pendingOverflow.Add(1)
		return overflowPending
	}
	return noOverflow
}

func (c *cluster) release() {
	if c.connSem != nil {
		<-c.connSem
	}
	c.rq.Add(-1)
}

// admitRetry applies max_retries.
func (c *cluster) admitRetry() bool {
	if c.retries.Add(1) > c.cfg.limits.maxRetries {
		c.retries.Add(-1)
		c.stats.retryOverflow.Add(1)
		return false
	}
	c.stats.retries.Add(1)
	return true
}
