package proxy

import (
	"crypto/tls"
	"maps"
	"net"
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
	lbRingHash
	lbMaglev
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
	strictDNS      bool          // static holds host names, resolved to every address
	dnsRefresh     time.Duration // STRICT_DNS re-resolution period
	dnsFamily      clusterv3.Cluster_DnsLookupFamily
	connectTimeout time.Duration
	lb             lbPolicy
	ringSize       uint64 // RING_HASH minimum ring size
	maglevSize     uint64 // MAGLEV table size (prime)
	choices        int    // LEAST_REQUEST choice count
	protocol       upstreamProtocol
	limits         thresholds
	outlier        *outlierConfig
	panicThreshold float64 // percent
	// localityWeighted is locality_weighted_lb_config: each priority level's localities share
	// its traffic by their EDS load_balancing_weight (foldLocalities).
	localityWeighted bool
	tls              *tls.Config
	keepalive        *net.KeepAliveConfig
	idleTimeout      time.Duration // 0: the pool's default
	maxPerConn       uint32        // max_requests_per_connection; 0: unlimited
	raw              []byte
}

// ownPool reports whether the cluster needs connections of its own rather than the shared pool.
func (c *clusterConfig) ownPool() bool {
	return c.tls != nil || c.keepalive != nil || c.idleTimeout > 0 || c.maxPerConn > 0
}

func decodeCluster(c *clusterv3.Cluster) (*clusterConfig, error) {
	if err := validateAll("", c); err != nil {
		return nil, err
	}
	if err := onlyFields("", c, "name", "type", "eds_cluster_config", "connect_timeout", "lb_policy",
		"load_assignment", "dns_lookup_family", "alt_stat_name", "metadata", "typed_extension_protocol_options",
		"ring_hash_lb_config", "maglev_lb_config", "least_request_lb_config", "common_lb_config", "circuit_breakers",
		"outlier_detection", "transport_socket", "upstream_connection_options", "dns_refresh_rate", "respect_dns_ttl",
		"max_requests_per_connection"); err != nil {
		return nil, err
	}
	cfg := &clusterConfig{name: c.GetName(), connectTimeout: defaultConnectTimeout, dnsRefresh: 5 * time.Second,
		ringSize: 1024, maglevSize: 65537, choices: 2}
	var err error
	if cfg.limits, err = decodeCircuitBreakers("circuit_breakers", c.GetCircuitBreakers()); err != nil {
		return nil, err
	}
	if cfg.outlier, err = decodeOutlierDetection("outlier_detection", c.GetOutlierDetection()); err != nil {
		return nil, err
	}
	if cfg.panicThreshold, cfg.localityWeighted, err = decodeCommonLbConfig("common_lb_config", c.GetCommonLbConfig()); err != nil {
		return nil, err
	}
	if cfg.tls, err = decodeTransportSocket("transport_socket", c.GetTransportSocket()); err != nil {
		return nil, err
	}
	if cfg.keepalive, err = decodeUpstreamConnectionOptions("upstream_connection_options", c.GetUpstreamConnectionOptions()); err != nil {
		return nil, err
	}
	if v := c.GetMaxRequestsPerConnection(); v != nil {
		cfg.maxPerConn = v.GetValue()
	}
	cfg.dnsFamily = c.GetDnsLookupFamily()
	if d := c.GetDnsRefreshRate(); d != nil && d.AsDuration() > 0 {
		cfg.dnsRefresh = d.AsDuration()
	}
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
		if err := decodeHTTPProtocolOptions(p, c.GetTypedExtensionProtocolOptions()[key], cfg); err != nil {
			return nil, err
		}
	}
	switch lb := c.GetLbPolicy(); lb {
	case clusterv3.Cluster_ROUND_ROBIN:
		cfg.lb = lbRoundRobin
	case clusterv3.Cluster_RANDOM:
		cfg.lb = lbRandom
	case clusterv3.Cluster_LEAST_REQUEST:
		cfg.lb = lbLeastRequest
		if lr := c.GetLeastRequestLbConfig(); lr != nil {
			if err := onlyFields("least_request_lb_config", lr, "choice_count"); err != nil {
				return nil, err
			}
			if n := lr.GetChoiceCount(); n != nil {
				cfg.choices = int(max(n.GetValue(), 2))
			}
		}
	case clusterv3.Cluster_RING_HASH:
		cfg.lb = lbRingHash
		if rh := c.GetRingHashLbConfig(); rh != nil {
			if err := onlyFields("ring_hash_lb_config", rh, "minimum_ring_size", "maximum_ring_size", "hash_function"); err != nil {
				return nil, err
			}
			if v := rh.GetMinimumRingSize(); v != nil {
				cfg.ringSize = v.GetValue()
			}
			if v := rh.GetMaximumRingSize(); v != nil {
				cfg.ringSize = min(cfg.ringSize, v.GetValue())
			}
			cfg.ringSize = min(max(cfg.ringSize, 1), 8<<20)
		}
	case clusterv3.Cluster_MAGLEV:
		cfg.lb = lbMaglev
		if mg := c.GetMaglevLbConfig(); mg != nil {
			if err := onlyFields("maglev_lb_config", mg, "table_size"); err != nil {
				return nil, err
			}
			if v := mg.GetTableSize(); v != nil {
				cfg.maglevSize = v.GetValue()
				if !isPrime(cfg.maglevSize) || cfg.maglevSize > 5000011 {
					return nil, fieldPath("maglev_lb_config").field("table_size").errorf("%d is not a prime up to 5000011", cfg.maglevSize)
				}
			}
		}
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
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_LOGICAL_DNS, clusterv3.Cluster_STRICT_DNS:
		if c.GetEdsClusterConfig() != nil {
			return nil, fieldPath("eds_cluster_config").errorf("only valid on an EDS cluster")
		}
		p := fieldPath("load_assignment")
		if c.GetLoadAssignment() == nil {
			return nil, p.errorf("required for a %s cluster", t)
		}
		dns := t != clusterv3.Cluster_STATIC
		cfg.strictDNS = t == clusterv3.Cluster_STRICT_DNS
		eps, err := decodeEndpoints(p, c.GetLoadAssignment(), dns)
		if err != nil {
			return nil, err
		}
		if t == clusterv3.Cluster_LOGICAL_DNS && eps.count != 1 {
			// LOGICAL_DNS dials one name; resolution happens per new connection.
			return nil, p.errorf("a LOGICAL_DNS cluster needs exactly one endpoint, got %d", eps.count)
		}
		cfg.static = eps
	default:
		return nil, fieldPath("type").errorf("%s is not supported (EDS, STATIC, STRICT_DNS and LOGICAL_DNS are)", t)
	}
	raw, err := deterministic.Marshal(c)
	if err != nil {
		return nil, err
	}
	cfg.raw = raw
	return cfg, nil
}

// decodeHTTPProtocolOptions takes the upstream HTTP version and the connection pool options.
func decodeHTTPProtocolOptions(p fieldPath, a *anypb.Any, cfg *clusterConfig) error {
	var o httpv3.HttpProtocolOptions
	if a.GetTypeUrl() != typeURLOf(&o) {
		return p.errorf("type %q, want %s", a.GetTypeUrl(), typeURLOf(&o))
	}
	if err := a.UnmarshalTo(&o); err != nil {
		return p.errorf("%v", err)
	}
	if err := validateAll(p, &o); err != nil {
		return err
	}
	if err := onlyFields(p, &o, "explicit_http_config", "use_downstream_protocol_config", "common_http_protocol_options"); err != nil {
		return err
	}
	if co := o.GetCommonHttpProtocolOptions(); co != nil {
		cp := p.field("common_http_protocol_options")
		if err := onlyFields(cp, co, "idle_timeout", "max_requests_per_connection"); err != nil {
			return err
		}
		if d := co.GetIdleTimeout(); d != nil {
			cfg.idleTimeout = d.AsDuration()
		}
		if v := co.GetMaxRequestsPerConnection(); v != nil {
			cfg.maxPerConn = v.GetValue()
		}
	}
	switch u := o.GetUpstreamProtocolOptions().(type) {
	case *httpv3.HttpProtocolOptions_ExplicitHttpConfig_:
		ep := p.field("explicit_http_config")
		e := u.ExplicitHttpConfig
		if err := onlyFields(ep, e, "http_protocol_options", "http2_protocol_options"); err != nil {
			return err
		}
		if h2 := e.GetHttp2ProtocolOptions(); h2 != nil {
			cfg.protocol = upstreamHTTP2
			return onlyFields(ep.field("http2_protocol_options"), h2)
		}
		cfg.protocol = upstreamHTTP1
		return onlyFields(ep.field("http_protocol_options"), e.GetHttpProtocolOptions())
	case *httpv3.HttpProtocolOptions_UseDownstreamProtocolConfig:
		dp := p.field("use_downstream_protocol_config")
		d := u.UseDownstreamProtocolConfig
		if err := onlyFields(dp, d, "http_protocol_options", "http2_protocol_options"); err != nil {
			return err
		}
		if h1 := d.GetHttpProtocolOptions(); h1 != nil {
			if err := onlyFields(dp.field("http_protocol_options"), h1); err != nil {
				return err
			}
		}
		if h2 := d.GetHttp2ProtocolOptions(); h2 != nil {
			if err := onlyFields(dp.field("http2_protocol_options"), h2); err != nil {
				return err
			}
		}
		cfg.protocol = upstreamAsDownstream
		return nil
	}
	if o.GetCommonHttpProtocolOptions() != nil {
		return nil // pool options alone: HTTP/1.1, the default
	}
	return p.errorf("one of explicit_http_config, use_downstream_protocol_config is required")
}

func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for d := uint64(2); d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
