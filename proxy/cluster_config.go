package proxy

import (
	"maps"
	"slices"
	"strconv"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

type lbPolicy uint8

const (
	lbRoundRobin lbPolicy = iota
	lbRandom
	lbLeastRequest
)

// upstreamProtocol is the HTTP version spoken to a cluster's endpoints.
type upstreamProtocol uint8

const (
	upstreamHTTP1        upstreamProtocol = iota
	upstreamHTTP2                         // prior-knowledge h2c, as gRPC backends expect
	upstreamAsDownstream                  // whatever the client spoke
)

const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// defaultConnectTimeout is Envoy's default for Cluster.connect_timeout.
const defaultConnectTimeout = 5 * time.Second

// clusterConfig is a validated Cluster. Its endpoints come from EDS under edsName, or, for
// STATIC and LOGICAL_DNS clusters, inline in static.
type clusterConfig struct {
	name           string
	edsName        string
	static         *endpointsConfig
	connectTimeout time.Duration
	lb             lbPolicy
	protocol       upstreamProtocol
	raw            []byte
}

func decodeCluster(c *clusterv3.Cluster) (*clusterConfig, error) {
	if err := validateAll("", c); err != nil {
		return nil, err
	}
	if err := onlyFields("", c, "name", "type", "eds_cluster_config", "connect_timeout", "lb_policy",
		"load_assignment", "dns_lookup_family", "alt_stat_name", "metadata", "typed_extension_protocol_options"); err != nil {
		return nil, err
	}
	cfg := &clusterConfig{name: c.GetName(), connectTimeout: defaultConnectTimeout}
	if ct := c.GetConnectTimeout(); ct != nil {
		cfg.connectTimeout = ct.AsDuration()
		if cfg.connectTimeout <= 0 {
			return nil, fieldPath("connect_timeout").errorf("must be positive")
		}
	}
	for _, key := range slices.Sorted(maps.Keys(c.GetTypedExtensionProtocolOptions())) {
		p := fieldPath("typed_extension_protocol_options[" + strconv.Quote(key) + "]")
		if key != httpProtocolOptionsKey {
			return nil, p.errorf("not supported: only %s is", httpProtocolOptionsKey)
		}
		up, err := decodeHTTPProtocolOptions(p, c.GetTypedExtensionProtocolOptions()[key])
		if err != nil {
			return nil, err
		}
		cfg.protocol = up
	}
	switch lb := c.GetLbPolicy(); lb {
	case clusterv3.Cluster_ROUND_ROBIN:
		cfg.lb = lbRoundRobin
	case clusterv3.Cluster_RANDOM:
		cfg.lb = lbRandom
	case clusterv3.Cluster_LEAST_REQUEST:
		cfg.lb = lbLeastRequest
	default:
		return nil, fieldPath("lb_policy").errorf("%s is not supported", lb)
	}
	switch t := c.GetType(); t {
	case clusterv3.Cluster_EDS:
		if c.GetLoadAssignment() != nil {
			return nil, fieldPath("load_assignment").errorf("not supported on an EDS cluster: endpoints come from EDS")
		}
		eds := c.GetEdsClusterConfig()
		p := fieldPath("eds_cluster_config")
		if eds == nil {
			return nil, p.errorf("required for an EDS cluster")
		}
		if err := onlyFields(p, eds, "eds_config", "service_name"); err != nil {
			return nil, err
		}
		if err := adsConfigSource(p.field("eds_config"), eds.GetEdsConfig()); err != nil {
			return nil, err
		}
		cfg.edsName = eds.GetServiceName()
		if cfg.edsName == "" {
			cfg.edsName = c.GetName()
		}
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_LOGICAL_DNS:
		if c.GetEdsClusterConfig() != nil {
			return nil, fieldPath("eds_cluster_config").errorf("only valid on an EDS cluster")
		}
		p := fieldPath("load_assignment")
		if c.GetLoadAssignment() == nil {
			return nil, p.errorf("required for a %s cluster", t)
		}
		dns := t == clusterv3.Cluster_LOGICAL_DNS
		eps, err := decodeEndpoints(p, c.GetLoadAssignment(), dns)
		if err != nil {
			return nil, err
		}
		if dns && eps.count != 1 {
			// LOGICAL_DNS dials one name; resolution happens per new connection.
			return nil, p.errorf("a LOGICAL_DNS cluster needs exactly one endpoint, got %d", eps.count)
		}
		cfg.static = eps
	default:
		return nil, fieldPath("type").errorf("%s is not supported (EDS, STATIC and LOGICAL_DNS are)", t)
	}
	raw, err := deterministic.Marshal(c)
	if err != nil {
		return nil, err
	}
	cfg.raw = raw
	return cfg, nil
}

// decodeHTTPProtocolOptions accepts the choice of upstream HTTP version and nothing else.
func decodeHTTPProtocolOptions(p fieldPath, a *anypb.Any) (upstreamProtocol, error) {
	var o httpv3.HttpProtocolOptions
	if a.GetTypeUrl() != typeURLOf(&o) {
		return 0, p.errorf("type %q, want %s", a.GetTypeUrl(), typeURLOf(&o))
	}
	if err := a.UnmarshalTo(&o); err != nil {
		return 0, p.errorf("%v", err)
	}
	if err := validateAll(p, &o); err != nil {
		return 0, err
	}
	if err := onlyFields(p, &o, "explicit_http_config", "use_downstream_protocol_config"); err != nil {
		return 0, err
	}
	switch u := o.GetUpstreamProtocolOptions().(type) {
	case *httpv3.HttpProtocolOptions_ExplicitHttpConfig_:
		ep := p.field("explicit_http_config")
		e := u.ExplicitHttpConfig
		if err := onlyFields(ep, e, "http_protocol_options", "http2_protocol_options"); err != nil {
			return 0, err
		}
		if h2 := e.GetHttp2ProtocolOptions(); h2 != nil {
			return upstreamHTTP2, onlyFields(ep.field("http2_protocol_options"), h2)
		}
		return upstreamHTTP1, onlyFields(ep.field("http_protocol_options"), e.GetHttpProtocolOptions())
	case *httpv3.HttpProtocolOptions_UseDownstreamProtocolConfig:
		dp := p.field("use_downstream_protocol_config")
		d := u.UseDownstreamProtocolConfig
		if err := onlyFields(dp, d, "http_protocol_options", "http2_protocol_options"); err != nil {
			return 0, err
		}
		if h1 := d.GetHttpProtocolOptions(); h1 != nil {
			if err := onlyFields(dp.field("http_protocol_options"), h1); err != nil {
				return 0, err
			}
		}
		if h2 := d.GetHttp2ProtocolOptions(); h2 != nil {
			if err := onlyFields(dp.field("http2_protocol_options"), h2); err != nil {
				return 0, err
			}
		}
		return upstreamAsDownstream, nil
	}
	return 0, p.errorf("one of explicit_http_config, use_downstream_protocol_config is required")
}
