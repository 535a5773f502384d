package proxy

import (
	"net"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// thresholds are a cluster's circuit breakers at the default priority. Unset ones take
// Envoy's defaults, so a cluster always has breakers, as in Envoy.
type thresholds struct {
	maxConnections, maxPending, maxRequests, maxRetries int64
}

var defaultThresholds = thresholds{maxConnections: 1024, maxPending: 1024, maxRequests: 1024, maxRetries: 3}

func decodeCircuitBreakers(p fieldPath, cb *clusterv3.CircuitBreakers) (thresholds, error) {
	t := defaultThresholds
	if cb == nil {
		return t, nil
	}
	if err := onlyFields(p, cb, "thresholds"); err != nil {
		return t, err
	}
	for i, th := range cb.GetThresholds() {
		tp := p.field("thresholds").index(i)
		if err := onlyFields(tp, th, "priority", "max_connections", "max_pending_requests", "max_requests", "max_retries", "track_remaining"); err != nil {
			return t, err
		}
		if th.GetPriority() != core.RoutingPriority_DEFAULT {
			continue // HIGH priority routes are not emitted: no route asks for them
		}
		if v := th.GetMaxConnections(); v != nil {
			t.maxConnections = int64(v.GetValue())
		}
		if v := th.GetMaxPendingRequests(); v != nil {
			t.maxPending = int64(v.GetValue())
		}
		if v := th.GetMaxRequests(); v != nil {
			t.maxRequests = int64(v.GetValue())
		}
		if v := th.GetMaxRetries(); v != nil {
			t.maxRetries = int64(v.GetValue())
		}
	}
	return t, nil
}

// outlierConfig is an OutlierDetection with Envoy's defaults filled in.
type outlierConfig struct {
	consecutive5xx, consecutiveGateway  uint32
	enforce5xx, enforceGateway          uint32 // percent
	interval, baseEjection, maxEjection time.Duration
	maxEjectionPercent                  uint32
}

func decodeOutlierDetection(p fieldPath, od *clusterv3.OutlierDetection) (*outlierConfig, error) {
	if od == nil {
		return nil, nil
	}
	if err := onlyFields(p, od, "consecutive_5xx", "interval", "base_ejection_time", "max_ejection_percent", "enforcing_consecutive_5xx",
		"enforcing_success_rate", "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure", "max_ejection_time",
		"split_external_local_origin_errors"); err != nil {
		return nil, err
	}
	if od.GetSplitExternalLocalOriginErrors() {
		return nil, p.field("split_external_local_origin_errors").errorf("true is not supported")
	}
	if v := od.GetEnforcingSuccessRate(); v != nil && v.GetValue() != 0 {
		return nil, p.field("enforcing_success_rate").errorf("success-rate ejection is not supported; set it to 0")
	}
	oc := &outlierConfig{consecutive5xx: 5, consecutiveGateway: 5, enforce5xx: 100, enforceGateway: 0,
		interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10}
	u32 := func(v interface{ GetValue() uint32 }, dst *uint32, ok bool) {
		if ok {
			*dst = v.GetValue()
		}
	}
	u32(od.GetConsecutive_5Xx(), &oc.consecutive5xx, od.Consecutive_5Xx != nil)
	u32(od.GetConsecutiveGatewayFailure(), &oc.consecutiveGateway, od.ConsecutiveGatewayFailure != nil)
	u32(od.GetEnforcingConsecutive_5Xx(), &oc.enforce5xx, od.EnforcingConsecutive_5Xx != nil)
	u32(od.GetEnforcingConsecutiveGatewayFailure(), &oc.enforceGateway, od.EnforcingConsecutiveGatewayFailure != nil)
	u32(od.GetMaxEjectionPercent(), &oc.maxEjectionPercent, od.MaxEjectionPercent != nil)
	if d := od.GetInterval(); d != nil {
		oc.interval = d.AsDuration()
	}
	if d := od.GetBaseEjectionTime(); d != nil {
		oc.baseEjection = d.AsDuration()
	}
	if d := od.GetMaxEjectionTime(); d != nil {
		oc.maxEjection = d.AsDuration()
	}
	oc.maxEjection = max(oc.maxEjection, oc.baseEjection)
	return oc, nil
}

// decodeCommonLbConfig returns the healthy panic threshold in percent (Envoy's default 50)
// and whether localities are weighted (locality_weighted_lb_config; see foldLocalities).
func decodeCommonLbConfig(p fieldPath, c *clusterv3.Cluster_CommonLbConfig) (threshold float64, localityWeighted bool, err error) {
	if c == nil {
		return 50, false, nil
	}
	if err := onlyFields(p, c, "healthy_panic_threshold", "locality_weighted_lb_config"); err != nil {
		return 0, false, err
	}
	if lw := c.GetLocalityWeightedLbConfig(); lw != nil {
		if err := onlyFields(p.field("locality_weighted_lb_config"), lw); err != nil {
			return 0, false, err
		}
		localityWeighted = true
	}
	threshold = 50
	if hp := c.GetHealthyPanicThreshold(); hp != nil {
		threshold = hp.GetValue()
	}
	return threshold, localityWeighted, nil
}

// tcpKeepalive is the upstream sockets' keep-alive settings.
func decodeUpstreamConnectionOptions(p fieldPath, o *clusterv3.UpstreamConnectionOptions) (*net.KeepAliveConfig, error) {
	if o == nil {
		return nil, nil
	}
	if err := onlyFields(p, o, "tcp_keepalive"); err != nil {
		return nil, err
	}
	ka := o.GetTcpKeepalive()
	if ka == nil {
		return nil, nil
	}
	if err := onlyFields(p.field("tcp_keepalive"), ka, "keepalive_probes", "keepalive_time", "keepalive_interval"); err != nil {
		return nil, err
	}
	kc := &net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1} // -1: the OS default
	if v := ka.GetKeepaliveTime(); v != nil {
		kc.Idle = time.Duration(v.GetValue()) * time.Second
	}
	if v := ka.GetKeepaliveInterval(); v != nil {
		kc.Interval = time.Duration(v.GetValue()) * time.Second
	}
	if v := ka.GetKeepaliveProbes(); v != nil {
		kc.Count = int(v.GetValue())
	}
	return kc, nil
}
