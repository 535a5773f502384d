package proxy

import (
	"time"

	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

const tcpProxyFilterName = "envoy.filters.network.tcp_proxy"

var tcpProxyTypeURL = typeURLOf(&tcpv3.TcpProxy{})

// defaultTCPIdleTimeout is Envoy's TcpProxy.idle_timeout when unset.
const defaultTCPIdleTimeout = time.Hour

// tcpProxyConfig is a validated TcpProxy: every accepted connection goes to one of targets
// (by weight), over at most maxAttempts connection attempts, and is closed after idle with no
// bytes either way (0: never).
type tcpProxyConfig struct {
	statPrefix  string
	targets     []tcpTarget
	weightSum   uint64
	idle        time.Duration
	maxAttempts int
}

type tcpTarget struct {
	cluster string
	weight  uint64
}

// decodeTCPProxy accepts what Istio emits for a TCP route: stat_prefix, cluster or
// weighted_clusters, idle_timeout and max_connect_attempts. Every other field changes what
// a connection does (access logs, tunneling, hashing, subsets, on-demand clusters), so it is
// refused rather than ignored.
func decodeTCPProxy(p fieldPath, tc *anypb.Any) (*tcpProxyConfig, error) {
	var m tcpv3.TcpProxy
	if err := tc.UnmarshalTo(&m); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := validateAll(p, &m); err != nil {
		return nil, err
	}
	if err := onlyFields(p, &m, "stat_prefix", "cluster", "weighted_clusters", "idle_timeout", "max_connect_attempts"); err != nil {
		return nil, err
	}
	cfg := &tcpProxyConfig{statPrefix: m.GetStatPrefix(), idle: defaultTCPIdleTimeout, maxAttempts: 1}
	if d := m.GetIdleTimeout(); d != nil {
		cfg.idle = d.AsDuration()
		if cfg.idle < 0 {
			return nil, p.field("idle_timeout").errorf("must not be negative")
		}
	}
	if v := m.GetMaxConnectAttempts(); v != nil {
		cfg.maxAttempts = int(min(v.GetValue(), 64)) // validated >= 1; each try needs another endpoint anyway
	}
	switch cs := m.GetClusterSpecifier().(type) {
	case *tcpv3.TcpProxy_Cluster:
		if cs.Cluster == "" {
			return nil, p.field("cluster").errorf("required")
		}
		cfg.targets = []tcpTarget{{cluster: cs.Cluster, weight: 1}}
	case *tcpv3.TcpProxy_WeightedClusters:
		wp := p.field("weighted_clusters")
		if err := onlyFields(wp, cs.WeightedClusters, "clusters"); err != nil {
			return nil, err
		}
		for i, w := range cs.WeightedClusters.GetClusters() {
			cp := wp.field("clusters").index(i)
			if err := onlyFields(cp, w, "name", "weight"); err != nil {
				return nil, err
			}
			if w.GetName() == "" {
				return nil, cp.field("name").errorf("required")
			}
			cfg.targets = append(cfg.targets, tcpTarget{cluster: w.GetName(), weight: uint64(w.GetWeight())})
			cfg.weightSum += uint64(w.GetWeight())
		}
	default:
		return nil, p.errorf("one of cluster, weighted_clusters is required")
	}
	if cfg.weightSum == 0 {
		cfg.weightSum = 1
	}
	return cfg, nil
}

// clusters names every cluster the proxy may connect to.
func (c *tcpProxyConfig) clusters() []string {
	out := make([]string, len(c.targets))
	for i, t := range c.targets {
		out[i] = t.cluster
	}
	return out
}
