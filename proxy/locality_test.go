package proxy

import (
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestNodeLocality: the node a proxy names on its ADS stream carries Options.Locality, and
// GET /config reports it; a proxy without one sends none.
func TestNodeLocality(t *testing.T) {
	xds := startXDS(t, "127.0.0.1:0")
	loc, err := ParseLocality("us-east1/us-east1-b/rack-7")
	if err != nil {
		t.Fatal(err)
	}
	placed := New(Options{XDSAddr: xds.addr, NodeID: "placed", Locality: loc})
	runProxy(t, placed)
	unplaced := New(Options{XDSAddr: xds.addr, NodeID: "unplaced"})
	runProxy(t, unplaced)

	nodeOf := func(id string) *core.Node {
		return xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool { return r.GetNode().GetId() == id }).GetNode()
	}
	want := &core.Locality{Region: "us-east1", Zone: "us-east1-b", SubZone: "rack-7"}
	if got := nodeOf("placed").GetLocality(); !proto.Equal(got, want) {
		t.Errorf("node locality %v, want %v", got, want)
	}
	if got := nodeOf("unplaced").GetLocality(); got != nil {
		t.Errorf("a proxy without a locality sent %v", got)
	}
	if got := configOf(t, placed).Locality; got == nil || *got != loc {
		t.Errorf("/config locality %+v, want %+v", got, loc)
	}
	if got := configOf(t, unplaced).Locality; got != nil {
		t.Errorf("/config locality %+v for a proxy without one", got)
	}
}

func TestParseLocality(t *testing.T) {
	for s, want := range map[string]Locality{
		"":      {},
		"r":     {Region: "r"},
		"r/z":   {Region: "r", Zone: "z"},
		"r/z/s": {Region: "r", Zone: "z", SubZone: "s"},
	} {
		if got, err := ParseLocality(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParseLocality(%q) = %+v (%q), %v", s, got, got.String(), err)
		}
	}
	for _, s := range []string{"/", "r/", "/z", "r//s", "r/z/", "r/z/s/x", "//"} {
		if got, err := ParseLocality(s); err == nil {
			t.Errorf("ParseLocality(%q) = %+v, want an error", s, got)
		}
	}
}

// weightedLocalities turns on locality-weighted balancing, as Istio's cluster builder does for
// a localityLbSetting that weighs localities.
func weightedLocalities(c *clusterv3.Cluster) {
	c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
		LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}}}
}

// liveCluster decodes cluster "c" (after the edits) and assignment, as CDS and EDS deliver
// them, and returns the cluster with its endpoints in place.
func liveCluster(t *testing.T, cla *endpointv3.ClusterLoadAssignment, edits ...func(*clusterv3.Cluster)) *cluster {
	t.Helper()
	pc := edsCluster("c")
	for _, edit := range edits {
		edit(pc)
	}
	cfg, err := decodeCluster(pc)
	if err != nil {
		t.Fatal(err)
	}
	cla.ClusterName = "c"
	eps, err := decodeClusterLoadAssignment(cla)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(cfg, &clusterStats{})
	c.setEndpoints(eps)
	return c
}

// inZone is a locality of region "r" at a priority with a load_balancing_weight (0: none) and
// endpoints on port 80 at the given addresses.
func inZone(zone string, priority, weight uint32, ips ...string) *endpointv3.LocalityLbEndpoints {
	l := &endpointv3.LocalityLbEndpoints{Locality: &core.Locality{Region: "r", Zone: zone}, Priority: priority}
	if weight > 0 {
		l.LoadBalancingWeight = wrapperspb.UInt32(weight)
	}
	for _, ip := range ips {
		l.LbEndpoints = append(l.LbEndpoints, lbEndpoint(ip, 80))
	}
	return l
}

// eightyTwenty: zone a (weight 80) holds .1 and .2, zone b (weight 20) holds .3, and zone c,
// with no weight, holds .4.
func eightyTwenty() *endpointv3.ClusterLoadAssignment {
	return &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 80, "10.0.0.1", "10.0.0.2"),
		inZone("b", 0, 20, "10.0.0.3"),
		inZone("c", 0, 0, "10.0.0.4"),
	}}
}

// pickCounts counts n picks by endpoint address.
func pickCounts(c *cluster, n int) map[string]int {
	counts := map[string]int{}
	for range n {
		if e := c.pick(); e != nil {
			counts[e.addr]++
		} else {
			counts[""]++
		}
	}
	return counts
}

// TestLocalityWeightedShares: with locality_weighted_lb_config, zone a takes 80% and zone b 20%
// whatever their endpoint counts, split within a zone by the policy, and zone c (no weight)
// takes nothing. Round robin is exact over whole cycles, and so is LEAST_REQUEST's choice of a
// zone; the random and hashing policies are within a tolerance.
func TestLocalityWeightedShares(t *testing.T) {
	const a1, a2, b, c = "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"
	want := map[string]float64{a1: 0.4, a2: 0.4, b: 0.2}
	for _, tc := range []struct {
		lb        clusterv3.Cluster_LbPolicy
		edit      func(*clusterv3.Cluster)
		picks     int
		tolerance float64 // of each endpoint's share; 0: exact
	}{
		{lb: clusterv3.Cluster_ROUND_ROBIN, picks: 1000},
		{lb: clusterv3.Cluster_RANDOM, picks: 20000, tolerance: 0.02},
		{lb: clusterv3.Cluster_MAGLEV, picks: 20000, tolerance: 0.02},
		{lb: clusterv3.Cluster_RING_HASH, picks: 20000, tolerance: 0.03, edit: func(c *clusterv3.Cluster) {
			c.LbConfig = &clusterv3.Cluster_RingHashLbConfig_{RingHashLbConfig: &clusterv3.Cluster_RingHashLbConfig{MinimumRingSize: wrapperspb.UInt64(1 << 16)}}
		}},
		{lb: clusterv3.Cluster_LEAST_REQUEST, picks: 1000},
	} {
		edits := []func(*clusterv3.Cluster){withLB(tc.lb), weightedLocalities}
		if tc.edit != nil {
			edits = append(edits, tc.edit)
		}
		got := pickCounts(liveCluster(t, eightyTwenty(), edits...), tc.picks)
		if got[c] != 0 || got[""] != 0 {
			t.Errorf("%s: the unweighted zone took %d picks, none %d", tc.lb, got[c], got[""])
		}
		if tc.lb == clusterv3.Cluster_LEAST_REQUEST {
			// The zone is picked by weighted round robin, the endpoint within it by choices.
			if got[a1]+got[a2] != 800 || got[b] != 200 || got[a1] == 0 || got[a2] == 0 {
				t.Errorf("%s: %v over 1000 picks, want 800 in zone a (both endpoints) and 200 in b", tc.lb, got)
			}
			continue
		}
		for addr, share := range want {
			n := float64(got[addr])
			if lo, hi := (share-tc.tolerance)*float64(tc.picks), (share+tc.tolerance)*float64(tc.picks); n < lo || n > hi {
				t.Errorf("%s: %s took %v of %d picks, want %v ± %v", tc.lb, addr, n, tc.picks, share*float64(tc.picks), tc.tolerance*float64(tc.picks))
			}
		}
	}
}

// TestLocalityWeightsIgnoredWithoutConfig: without locality_weighted_lb_config the same
// assignment is balanced over all four endpoints alike, as Envoy ignores locality weights then.
func TestLocalityWeightsIgnoredWithoutConfig(t *testing.T) {
	got := pickCounts(liveCluster(t, eightyTwenty()), 1000)
	for _, addr := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"} {
		if got[addr] != 250 {
			t.Errorf("round robin over 1000 picks: %v, want 250 each", got)
			break
		}
	}
}

// TestLocalityWeightedPriorities: locality weights apply within a priority level; the next
// level takes traffic when the one above is empty or ejected (in part:
// TestPriorityLoadByHealth), and a level none of whose localities with endpoints has a weight
// is balanced by endpoint weight, as Envoy does when it finds no locality to pick.
func TestLocalityWeightedPriorities(t *testing.T) {
	outlier := func(c *clusterv3.Cluster) {
		c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), EnforcingConsecutive_5Xx: wrapperspb.UInt32(100),
			BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: wrapperspb.UInt32(100)}
		c.CommonLbConfig.HealthyPanicThreshold = &typev3.Percent{Value: 0}
	}
	two := eightyTwenty()
	two.Endpoints = append(two.Endpoints, inZone("d", 1, 100, "10.0.1.1"), inZone("e", 1, 0, "10.0.1.2"))
	c := liveCluster(t, two, weightedLocalities, outlier)
	if got := pickCounts(c, 1000); got["10.0.0.1:80"] != 400 || got["10.0.0.2:80"] != 400 || got["10.0.0.3:80"] != 200 {
		t.Errorf("level 0 healthy: %v, want 400/400/200 in level 0 only", got)
	}
	for _, e := range c.eps.Load().eps {
		c.report(e, 500)
	}
	if got := pickCounts(c, 100); got["10.0.1.1:80"] != 100 {
		t.Errorf("level 0 ejected: %v, want every pick in level 1's weighted zone d", got)
	}

	// Level 0's only weighted zone has no usable endpoint: its unweighted zone takes it all.
	unweighted := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 80, "10.0.0.1"), inZone("c", 0, 0, "10.0.0.4", "10.0.0.5"), inZone("d", 1, 100, "10.0.1.1"),
	}}
	unweighted.Endpoints[0].LbEndpoints[0].HealthStatus = core.HealthStatus_UNHEALTHY
	if got := pickCounts(liveCluster(t, unweighted, weightedLocalities), 100); got["10.0.0.4:80"] != 50 || got["10.0.0.5:80"] != 50 {
		t.Errorf("level 0 without a weighted zone: %v, want 50/50 over zone c", got)
	}

	// Level 0 has no usable endpoint at all: level 1 takes it all.
	empty := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 80, "10.0.0.1"), inZone("d", 1, 30, "10.0.1.1"), inZone("e", 1, 10, "10.0.1.2"),
	}}
	empty.Endpoints[0].LbEndpoints[0].HealthStatus = core.HealthStatus_DRAINING
	if got := pickCounts(liveCluster(t, empty, weightedLocalities), 100); got["10.0.1.1:80"] != 75 || got["10.0.1.2:80"] != 25 {
		t.Errorf("level 0 empty: %v, want level 1 weighted 75/25", got)
	}
}

// TestDecodeLocalities: one region, zone and sub-zone at one priority is one locality, whose
// weight is the last one given; a weight without a locality counts for nothing, as in Envoy.
func TestDecodeLocalities(t *testing.T) {
	noLocality := inZone("", 0, 50, "10.0.0.3")
	noLocality.Locality = nil
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 10, "10.0.0.1"), inZone("a", 0, 30, "10.0.0.2"), noLocality, inZone("a", 1, 5, "10.0.0.4"),
	}}
	eps, err := decodeClusterLoadAssignment(cla)
	if err != nil {
		t.Fatal(err)
	}
	l0 := eps.eps
	if len(l0) != 3 || l0[0].locality != l0[1].locality || l0[0].localityWeight != 30 || l0[1].localityWeight != 30 ||
		l0[2].locality == l0[0].locality || l0[2].localityWeight != 0 {
		t.Errorf("priority 0: %+v", l0)
	}
	if len(eps.lower) != 1 || eps.lower[0][0].localityWeight != 5 {
		t.Errorf("priority 1: %+v", eps.lower)
	}
}

// TestFoldLocalitiesPrecision: folded weights are each endpoint's exact share when the
// integers are small, and within 0.1% of the level otherwise, at least 1 for any share.
func TestFoldLocalitiesPrecision(t *testing.T) {
	level := func(locs ...[]uint32) []endpointConfig { // {locality weight, endpoint weights...}
		var eps []endpointConfig
		for i, l := range locs {
			for _, w := range l[1:] {
				eps = append(eps, endpointConfig{addr: fmt.Sprint(len(eps)), weight: w, locality: uint32(i), localityWeight: l[0]})
			}
		}
		return eps
	}
	for _, tc := range []struct {
		eps   []endpointConfig
		exact []uint32 // nil: check the shares only
	}{
		{level([]uint32{80, 1, 1}, []uint32{20, 1}), []uint32{2, 2, 1}},
		{level([]uint32{1, 1, 2}, []uint32{1, 5}, []uint32{0, 7}), []uint32{1, 2, 3}},
		{level([]uint32{3, 1, 1, 1}, []uint32{1, 1, 1, 1, 1, 1, 1, 1}), []uint32{7, 7, 7, 1, 1, 1, 1, 1, 1, 1}},
		{level([]uint32{1000003, 997, 1}, []uint32{999983, 991, 13, 7}, []uint32{1, 5}), nil},
		{level([]uint32{4000000000, 3, 1}, []uint32{1, 1, 1}), nil},
	} {
		got, _ := foldLocalities(tc.eps)
		if tc.exact != nil {
			var ws []uint32
			for _, e := range got {
				ws = append(ws, e.weight)
			}
			if !slices.Equal(ws, tc.exact) {
				t.Errorf("fold %+v: weights %v, want %v", tc.eps, ws, tc.exact)
			}
			continue
		}
		// The exact share of each endpoint, by address, from the unfolded level.
		locTotal, sums := 0.0, map[uint32]float64{}
		for _, e := range tc.eps {
			if sums[e.locality] == 0 {
				locTotal += float64(e.localityWeight)
			}
			sums[e.locality] += float64(e.weight)
		}
		var total float64
		for _, e := range got {
			total += float64(e.weight)
		}
		for _, g := range got {
			for _, e := range tc.eps {
				if e.addr != g.addr {
					continue
				}
				want := float64(e.localityWeight) / locTotal * float64(e.weight) / sums[e.locality]
				if share := float64(g.weight) / total; g.weight == 0 || math.Abs(share-want) > 0.001 {
					t.Errorf("fold %+v: endpoint %s weighs %d (share %v), want share %v", tc.eps, g.addr, g.weight, share, want)
				}
			}
		}
	}
}

// TestLocalityWeightedSkewedRoundRobin: a 99/1 split with ten endpoints in the heavy zone and
// a hundred in the light one folds to weights totalling 10000, more than one round-robin
// schedule holds; every run of 10000 picks still gives each zone exactly its share and each
// endpoint its own.
func TestLocalityWeightedSkewedRoundRobin(t *testing.T) {
	var heavy, light []string
	for i := range 10 {
		heavy = append(heavy, fmt.Sprintf("10.0.0.%d", i+1))
	}
	for i := range 100 {
		light = append(light, fmt.Sprintf("10.0.1.%d", i+1))
	}
	cla := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 99, heavy...), inZone("b", 0, 1, light...),
	}}
	c := liveCluster(t, cla, weightedLocalities)
	c.rr.Store(12345) // any run of a whole cycle, not only the first
	got := pickCounts(c, 10000)
	for _, ip := range heavy {
		if n := got[ip+":80"]; n != 990 {
			t.Errorf("heavy zone endpoint %s took %d of 10000 picks, want 990", ip, n)
		}
	}
	for _, ip := range light {
		if n := got[ip+":80"]; n != 1 {
			t.Errorf("light zone endpoint %s took %d of 10000 picks, want 1", ip, n)
		}
	}
}

// TestLocalityWeightsOverXDS: through a real xDS server and real backends, a cluster sent with
// locality_weighted_lb_config splits requests by the weights its assignment gives zones a (3)
// and b (1); when CDS alone drops the config, the same endpoints are balanced alike.
func TestLocalityWeightsOverXDS(t *testing.T) {
	a1, b1, b2 := backend(t, "a1"), backend(t, "b1"), backend(t, "b2")
	cfg := sidecar{version: "r1", routes: routeConfiguration("r", vhost("v", []string{"*"}, prefixRoute("/", "c"))),
		clusters: map[string][]*httptest.Server{"c": {a1, b1, b2}},
		edit:     map[string]func(*clusterv3.Cluster){"c": weightedLocalities}}
	snap := cfg.snapshot(t)
	zone := func(name string, weight uint32, backends ...*httptest.Server) *endpointv3.LocalityLbEndpoints {
		l := inZone(name, 0, weight)
		for _, b := range backends {
			ip, port := hostPort(t, b)
			l.LbEndpoints = append(l.LbEndpoints, lbEndpoint(ip, port))
		}
		return l
	}
	snap.resources[eds][0].(*endpointv3.ClusterLoadAssignment).Endpoints = []*endpointv3.LocalityLbEndpoints{zone("a", 3, a1), zone("b", 1, b1, b2)}
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, snap)
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})
	addr := p.ListenerAddr("out")

	client := newClient()
	count := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			code, from := get(t, client, addr, "svc", "/")
			if code != 200 {
				t.Fatalf("status %d from %q", code, from)
			}
			got[from]++
		}
		return got
	}
	if got := count(80); got["a1"] != 60 || got["b1"] != 10 || got["b2"] != 10 {
		t.Errorf("locality-weighted: %v over 80 requests, want a1 60, b1 10, b2 10", got)
	}

	snap.versions[cds] = "c2"
	snap.resources[cds][0].(*clusterv3.Cluster).CommonLbConfig = nil
	xds.set(t, node, snap)
	waitVersions(t, p, map[string]string{cds: "c2"})
	if got := count(90); got["a1"] != 30 || got["b1"] != 30 || got["b2"] != 30 {
		t.Errorf("without locality_weighted_lb_config: %v over 90 requests, want 30 each", got)
	}
}

// TestPriorityLoadByHealth: as in Envoy, a level keeps all its traffic while at least 1/1.4 of
// its endpoints are usable, and past that sheds the rest of its share to the next level: with
// one of three ejected it keeps 93%, with two 46%.
func TestPriorityLoadByHealth(t *testing.T) {
	outlier := func(c *clusterv3.Cluster) {
		c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), EnforcingConsecutive_5Xx: wrapperspb.UInt32(100),
			BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: wrapperspb.UInt32(100)}
		c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: 0}}
	}
	cla := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		inZone("a", 0, 0, "10.0.0.1", "10.0.0.2", "10.0.0.3"), inZone("b", 1, 0, "10.0.1.1"),
	}}
	c := liveCluster(t, cla, outlier)
	level0 := c.eps.Load().eps
	const picks = 20000
	share := func() float64 {
		got := pickCounts(c, picks)
		return float64(got["10.0.1.1:80"]) / picks
	}
	if s := share(); s != 0 {
		t.Errorf("level 0 healthy: level 1 took %.3f, want 0", s)
	}
	c.report(level0[0], 500)
	if s := share(); s < 0.05 || s > 0.09 {
		t.Errorf("one of three ejected: level 1 took %.3f, want 0.07 (level 0 keeps 1.4 × 2/3 = 93%%)", s)
	}
	c.report(level0[1], 500)
	if s := share(); s < 0.51 || s > 0.57 {
		t.Errorf("two of three ejected: level 1 took %.3f, want 0.54 (level 0 keeps 1.4 × 1/3 = 46%%)", s)
	}
	c.report(level0[2], 500)
	if s := share(); s != 1 {
		t.Errorf("level 0 ejected: level 1 took %.3f, want all", s)
	}
}

// TestLocalityWeightScaledByHealth: under locality-weighted balancing Envoy scales a locality's
// weight by its health, so with one of zone a's two endpoints ejected zone a weighs
// 80 × min(1, 1.4 × 1/2) = 56 against zone b's 20: 74% and 26%, all of a's on its healthy
// endpoint.
func TestLocalityWeightScaledByHealth(t *testing.T) {
	outlier := func(c *clusterv3.Cluster) {
		c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), EnforcingConsecutive_5Xx: wrapperspb.UInt32(100),
			BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: wrapperspb.UInt32(100)}
		c.CommonLbConfig.HealthyPanicThreshold = &typev3.Percent{Value: 0}
	}
	for _, lb := range []clusterv3.Cluster_LbPolicy{clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_RANDOM, clusterv3.Cluster_LEAST_REQUEST} {
		c := liveCluster(t, eightyTwenty(), withLB(lb), weightedLocalities, outlier)
		for _, e := range c.eps.Load().eps {
			if e.addr == "10.0.0.1:80" {
				c.report(e, 500)
			}
		}
		const picks = 20000
		got := pickCounts(c, picks)
		if got["10.0.0.1:80"] != 0 || got["10.0.0.4:80"] != 0 {
			t.Errorf("%s: the ejected endpoint or the unweighted zone took picks: %v", lb, got)
		}
		if share := float64(got["10.0.0.2:80"]) / picks; share < 0.717 || share > 0.757 {
			t.Errorf("%s: zone a's healthy endpoint took %.3f, want 0.737 (56 of 76)", lb, share)
		}
	}
}
