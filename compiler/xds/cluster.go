package xds

import (
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// connectTimeout is Istio's default upstream connect timeout.
const connectTimeout = 10 * time.Second

// httpProtocolOptionsKey is where Envoy reads a cluster's HTTP protocol options.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// Cluster builds one upstream cluster. EDS clusters get their endpoints over ADS; DNS clusters
// carry their hostnames inline, as Istio emits them.
func Cluster(c *ir.Cluster) (*cluster.Cluster, error) {
	out := &cluster.Cluster{
		Name:           c.Name,
		ConnectTimeout: durationpb.New(connectTimeout),
		LbPolicy:       cluster.Cluster_ROUND_ROBIN,
	}
	switch c.Discovery {
	case ir.DiscoveryStrictDNS, ir.DiscoveryLogicalDNS:
		typ := cluster.Cluster_STRICT_DNS
		if c.Discovery == ir.DiscoveryLogicalDNS {
			typ = cluster.Cluster_LOGICAL_DNS
		}
		out.ClusterDiscoveryType = &cluster.Cluster_Type{Type: typ}
		out.DnsLookupFamily = cluster.Cluster_V4_ONLY
		out.LoadAssignment = loadAssignment(c)
	default:
		out.ClusterDiscoveryType = &cluster.Cluster_Type{Type: cluster.Cluster_EDS}
		out.EdsClusterConfig = &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: c.Name}
	}
	if err := applyPolicy(out, c); err != nil {
		return nil, err
	}
	if err := applyScope(out, c.For); err != nil {
		return nil, err
	}
	if err := applyVisible(out, c.Visible); err != nil {
		return nil, err
	}
	return validated(out)
}

var lbPolicies = map[string]cluster.Cluster_LbPolicy{
	"":                cluster.Cluster_ROUND_ROBIN,
	ir.LBRoundRobin:   cluster.Cluster_ROUND_ROBIN,
	ir.LBLeastRequest: cluster.Cluster_LEAST_REQUEST,
	ir.LBRandom:       cluster.Cluster_RANDOM,
	ir.LBRingHash:     cluster.Cluster_RING_HASH,
	ir.LBMaglev:       cluster.Cluster_MAGLEV,
	ir.LBOriginalDst:  cluster.Cluster_CLUSTER_PROVIDED,
}

// applyPolicy sets what a DestinationRule traffic policy says, field for field as Istio's
// cluster builder does.
func applyPolicy(out *cluster.Cluster, c *ir.Cluster) error {
	p := c.Policy
	if p == nil {
		p = &ir.Policy{}
	}
	out.LbPolicy = lbPolicies[p.LB]
	switch p.LB {
	case ir.LBRingHash:
		cfg := &cluster.Cluster_RingHashLbConfig{}
		if p.RingMinSize > 0 {
			cfg.MinimumRingSize = wrapperspb.UInt64(p.RingMinSize)
		}
		out.LbConfig = &cluster.Cluster_RingHashLbConfig_{RingHashLbConfig: cfg}
	case ir.LBMaglev:
		cfg := &cluster.Cluster_MaglevLbConfig{}
		if p.MaglevTableSize > 0 {
			cfg.TableSize = wrapperspb.UInt64(p.MaglevTableSize)
		}
		out.LbConfig = &cluster.Cluster_MaglevLbConfig_{MaglevLbConfig: cfg}
	}
	if p.ConnectTimeout > 0 {
		out.ConnectTimeout = duration(p.ConnectTimeout)
	}
	if k := p.Keepalive; k != nil {
		ka := &core.TcpKeepalive{}
		if k.Probes > 0 {
			ka.KeepaliveProbes = wrapperspb.UInt32(k.Probes)
		}
		if k.Time > 0 {
			ka.KeepaliveTime = wrapperspb.UInt32(uint32(timeDuration(k.Time) / time.Second))
		}
		if k.Interval > 0 {
			ka.KeepaliveInterval = wrapperspb.UInt32(uint32(timeDuration(k.Interval) / time.Second))
		}
		out.UpstreamConnectionOptions = &cluster.UpstreamConnectionOptions{TcpKeepalive: ka}
	}
	if l := p.Limits; l != nil {
		out.CircuitBreakers = &cluster.CircuitBreakers{Thresholds: []*cluster.CircuitBreakers_Thresholds{{
			MaxConnections:     wrapperspb.UInt32(l.MaxConnections),
			MaxPendingRequests: wrapperspb.UInt32(l.MaxPendingRequests),
			MaxRequests:        wrapperspb.UInt32(l.MaxRequests),
			MaxRetries:         wrapperspb.UInt32(l.MaxRetries),
			TrackRemaining:     true,
		}}}
	}
	if c.HTTP2 || p.IdleTimeout > 0 || p.MaxRequestsPerConnection > 0 {
		opts, err := httpProtocolOptions(c.HTTP2, p)
		if err != nil {
			return err
		}
		out.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: opts}
	}
	if o := p.Outlier; o != nil {
		od := &cluster.OutlierDetection{EnforcingSuccessRate: wrapperspb.UInt32(0)}
		if o.Consecutive5xx != nil {
			od.Consecutive_5Xx = wrapperspb.UInt32(*o.Consecutive5xx)
			od.EnforcingConsecutive_5Xx = wrapperspb.UInt32(enforcing(*o.Consecutive5xx))
		}
		if o.ConsecutiveGateway != nil {
			od.ConsecutiveGatewayFailure = wrapperspb.UInt32(*o.ConsecutiveGateway)
			od.EnforcingConsecutiveGatewayFailure = wrapperspb.UInt32(enforcing(*o.ConsecutiveGateway))
		}
		if o.Interval > 0 {
			od.Interval = duration(o.Interval)
		}
		if o.BaseEjectionTime > 0 {
			od.BaseEjectionTime = duration(o.BaseEjectionTime)
		}
		if o.MaxEjectionPercent > 0 {
			od.MaxEjectionPercent = wrapperspb.UInt32(o.MaxEjectionPercent)
		}
		out.OutlierDetection = od
		out.CommonLbConfig = &cluster.Cluster_CommonLbConfig{HealthyPanicThreshold: percent(o.MinHealthPercent)}
	}
	if err := applyLocality(out, p.Locality); err != nil {
		return err
	}
	if p.TLS != nil {
		ts, err := tlsTransportSocket(p.TLS)
		if err != nil {
			return err
		}
		out.TransportSocket = ts
	}
	return nil
}

// enforcing is Istio's rule: a configured consecutive-error detector ejects every time.
func enforcing(n uint32) uint32 {
	if n > 0 {
		return 100
	}
	return 0
}

func httpProtocolOptions(h2 bool, p *ir.Policy) (*anypb.Any, error) {
	opts := &upstreamhttp.HttpProtocolOptions{}
	if p.IdleTimeout > 0 || p.MaxRequestsPerConnection > 0 {
		common := &core.HttpProtocolOptions{}
		if p.IdleTimeout > 0 {
			common.IdleTimeout = duration(p.IdleTimeout)
		}
		if p.MaxRequestsPerConnection > 0 {
			common.MaxRequestsPerConnection = wrapperspb.UInt32(p.MaxRequestsPerConnection)
		}
		opts.CommonHttpProtocolOptions = common
	}
	explicit := &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{}
	if h2 {
		explicit.ProtocolConfig = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &core.Http2ProtocolOptions{}}
	} else {
		explicit.ProtocolConfig = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
			HttpProtocolOptions: &core.Http1ProtocolOptions{}}
	}
	opts.UpstreamProtocolOptions = &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit}
	return pack(opts)
}

// LoadAssignment builds the endpoints of a cluster: one locality per distinct locality, each
// with a load-balancing weight (gRPC clients drop localities without one).
func LoadAssignment(c *ir.Cluster) (*endpoint.ClusterLoadAssignment, error) {
	return validated(loadAssignment(c))
}

func loadAssignment(c *ir.Cluster) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: c.Name}
	var loc *endpoint.LocalityLbEndpoints
	for i, e := range c.Endpoints {
		if i == 0 || e.Locality != c.Endpoints[i-1].Locality {
			loc = &endpoint.LocalityLbEndpoints{LoadBalancingWeight: wrapperspb.UInt32(0), Locality: locality(e.Locality)}
			cla.Endpoints = append(cla.Endpoints, loc)
		}
		lb := &endpoint.LbEndpoint{HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
			Address: socketAddress(e.Address, e.Port),
		}}, Metadata: endpointMetadata(e.Labels)}
		w := max(e.Weight, 1)
		if e.Weight > 0 {
			lb.LoadBalancingWeight = wrapperspb.UInt32(e.Weight)
		}
		// A locality weighs as much as its endpoints, as Istio sums them.
		loc.LoadBalancingWeight.Value += w
		loc.LbEndpoints = append(loc.LbEndpoints, lb)
	}
	return cla
}

// locality is always set, empty or not: gRPC clients refuse a locality without one.
func locality(l string) *core.Locality {
	if l == "" {
		return &core.Locality{}
	}
	parts := strings.SplitN(l, "/", 3)
	out := &core.Locality{Region: parts[0]}
	if len(parts) > 1 {
		out.Zone = parts[1]
	}
	if len(parts) > 2 {
		out.SubZone = parts[2]
	}
	return out
}
