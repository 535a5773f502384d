package proxy

import (
	"testing"
	"time"
)

// TestHealthyPanicThreshold: with every endpoint ejected, Envoy's default threshold (50%)
// balances over all of them anyway; a threshold of 0 (Istio's minHealthPercent 0) answers
// "no healthy upstream" instead.
func TestHealthyPanicThreshold(t *testing.T) {
	for _, tc := range []struct {
		threshold float64
		wantPick  bool
	}{{50, true}, {0, false}} {
		cfg := &clusterConfig{name: "c", panicThreshold: tc.threshold, limits: defaultThresholds,
			outlier: &outlierConfig{consecutive5xx: 1, enforce5xx: 100, baseEjection: time.Minute, maxEjection: time.Minute, maxEjectionPercent: 100}}
		c := newCluster(cfg, &clusterStats{})
		c.setEndpoints(&endpointsConfig{eps: []endpointConfig{{addr: "10.0.0.1:80", weight: 1}, {addr: "10.0.0.2:80", weight: 1}}})
		for _, e := range c.eps.Load().eps {
			c.report(e, 500)
		}
		if got := c.eps.Load().ejected.Load(); got != 2 {
			t.Fatalf("threshold %v: %d ejected, want 2", tc.threshold, got)
		}
		if got := c.pick() != nil; got != tc.wantPick {
			t.Errorf("threshold %v: picked %v, want %v", tc.threshold, got, tc.wantPick)
		}
	}
}

// TestEjectionTimeGrows: each ejection of the same endpoint lasts base_ejection_time times
// the number of its ejections, capped at max_ejection_time, as in Envoy.
func TestEjectionTimeGrows(t *testing.T) {
	cfg := &clusterConfig{name: "c", limits: defaultThresholds,
		outlier: &outlierConfig{consecutive5xx: 1, enforce5xx: 100, baseEjection: time.Second, maxEjection: 3 * time.Second, maxEjectionPercent: 100}}
	c := newCluster(cfg, &clusterStats{})
	c.setEndpoints(&endpointsConfig{eps: []endpointConfig{{addr: "10.0.0.1:80", weight: 1}}})
	e := c.eps.Load().eps[0]
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		before := time.Now()
		c.report(e, 503)
		got := time.Duration(e.ejectedUntil.Load() - before.UnixNano())
		if got < want-100*time.Millisecond || got > want+100*time.Millisecond {
			t.Errorf("ejection %d lasts %v, want %v", i+1, got, want)
		}
		e.ejectedUntil.Store(1) // over: the next check returns it to service
		e.set.isEjected(e, time.Now().UnixNano())
	}
}
