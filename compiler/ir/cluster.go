package ir

import "slices"

// Cluster discovery kinds.
const (
	DiscoveryEDS        = "" // endpoints come over ADS (the default)
	DiscoveryStrictDNS  = "STRICT_DNS"
	DiscoveryLogicalDNS = "LOGICAL_DNS"
	DiscoveryOriginal   = "ORIGINAL_DST" // PASSTHROUGH: the request's own destination
)

// Cluster is one upstream: a service port, optionally narrowed to a subset.
type Cluster struct {
	Name   string `json:"name,omitempty"` // outbound|PORT|SUBSET|HOST
	Host   string `json:"host,omitempty"`
	Port   uint32 `json:"port,omitempty"`
	Subset string `json:"subset,omitempty"`
	// Discovery says where endpoints come from; DNS kinds carry them inline as hostnames.
	Discovery string `json:"discovery,omitempty"`
	// HTTP2 speaks prior-knowledge HTTP/2 upstream (gRPC and HTTP2 ports).
	HTTP2     bool       `json:"http2,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"` // sorted by locality, address, port
	Policy    *Policy    `json:"policy,omitempty"`
	// For is which proxies this variant of the cluster is for, by namespace: nil for every
	// proxy. A host whose DestinationRules are not exported everywhere has one variant of each
	// cluster per DestinationRule a namespace sees (and the plain one for those that see none),
	// all of the same name; the publisher serves each proxy its namespace's.
	For *NamespaceScope `json:"for,omitempty"`
	// Visible is which proxies see the cluster's service, as Istio's SidecarScope computes the
	// services a proxy is sent clusters for: the namespaces its ServiceEntry is exported to
	// (Namespaces) and the Sidecars whose egress hosts admit it, or a VirtualService they admit
	// that sends to it (Sidecars); nil for every proxy. The publisher serves a proxy that does
	// not see the service neither the cluster nor its endpoints, unless a route or listener it is
	// served names the cluster.
	Visible *Source `json:"visible,omitempty"`
}

// NamespaceScope is a set of proxy namespaces: Only those, or (Elsewhere) every namespace
// but Except.
type NamespaceScope struct {
	Only      []string `json:"only,omitempty"`
	Elsewhere bool     `json:"elsewhere,omitempty"`
	Except    []string `json:"except,omitempty"`
}

// Has reports whether a proxy in namespace ns is in the set.
func (s *NamespaceScope) Has(ns string) bool {
	if s == nil {
		return true
	}
	if s.Elsewhere {
		return !slices.Contains(s.Except, ns)
	}
	return slices.Contains(s.Only, ns)
}

// Endpoint is one upstream address (an IP, or a hostname for DNS clusters).
type Endpoint struct {
	Address  string `json:"address,omitempty"`
	Port     uint32 `json:"port,omitempty"`
	Weight   uint32 `json:"weight,omitempty"`
	Locality string `json:"locality,omitempty"` // region/zone/subzone
	// Labels are the workload's labels with Istio's topology labels added, carried only for
	// clusters whose locality policy fails over by label (failoverPriority).
	Labels map[string]string `json:"labels,omitempty"`
}

// Load-balancing policies.
const (
	LBRoundRobin   = "ROUND_ROBIN"
	LBLeastRequest = "LEAST_REQUEST"
	LBRandom       = "RANDOM"
	LBRingHash     = "RING_HASH"
	LBMaglev       = "MAGLEV"
	LBOriginalDst  = "CLUSTER_PROVIDED"
)

// Policy is a DestinationRule traffic policy resolved for one cluster (subset over port level
// over top level, field by field as Istio merges them).
type Policy struct {
	LB              string `json:"lb,omitempty"` // "" is round robin
	RingMinSize     uint64 `json:"ringMinSize,omitempty"`
	MaglevTableSize uint64 `json:"maglevTableSize,omitempty"`
	// Hash is what routes to this cluster hash on (ring hash and maglev).
	Hash []HashPolicy `json:"hash,omitempty"`

	ConnectTimeout Duration   `json:"connectTimeout,omitempty"`
	Keepalive      *Keepalive `json:"keepalive,omitempty"`
	// Limits are circuit-breaker thresholds (Istio sets them on every cluster).
	Limits                   *Limits  `json:"limits,omitempty"`
	IdleTimeout              Duration `json:"idleTimeout,omitempty"`
	MaxRequestsPerConnection uint32   `json:"maxRequestsPerConnection,omitempty"`

	Outlier *Outlier `json:"outlier,omitempty"`
	TLS     *TLS     `json:"tls,omitempty"`
	// Locality is how each proxy's own locality shapes the endpoints it is sent; nil when it
	// changes nothing (no distribute, and no outlier detection to fail over with).
	Locality *LocalityLB `json:"locality,omitempty"`
}

// LocalityLB is Istio's localityLbSetting as it applies to one cluster. The compiler cannot
// apply it: priorities and weights are relative to the proxy asking, so the publisher applies
// it per proxy locality (compiler.Role.Localized).
type LocalityLB struct {
	// Distribute weights localities for proxies in From (the first matching entry wins).
	Distribute []LocalityDistribute `json:"distribute,omitempty"`
	// Failover ranks endpoints by nearness to the proxy (same subzone, zone, region, other),
	// with Failover naming the region a region's proxies fall back to first.
	Failover bool               `json:"failover,omitempty"`
	Regions  []LocalityFailover `json:"regions,omitempty"`
	// FailoverPriority ranks endpoints by the labels they share with the proxy, in order
	// ("label" or "label=value" to compare with a fixed value).
	FailoverPriority []string `json:"failoverPriority,omitempty"`
}

// LocalityDistribute sends traffic from proxies in From to localities by weight.
type LocalityDistribute struct {
	From string           `json:"from"`
	To   []LocalityWeight `json:"to"` // most specific first
}

// LocalityWeight is one destination locality (possibly ending in "*") and its weight.
type LocalityWeight struct {
	Locality string `json:"locality"`
	Weight   uint32 `json:"weight"`
}

// LocalityFailover sends traffic of proxies in region From to region To first when their own
// region has no healthy endpoint.
type LocalityFailover struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Keepalive is TCP keepalive on upstream connections; zero fields keep the OS default.
type Keepalive struct {
	Probes   uint32   `json:"probes,omitempty"`
	Time     Duration `json:"time,omitempty"`
	Interval Duration `json:"interval,omitempty"`
}

// Limits are Envoy's circuit-breaker thresholds for the default priority.
type Limits struct {
	MaxConnections     uint32 `json:"maxConnections"`
	MaxPendingRequests uint32 `json:"maxPendingRequests"`
	MaxRequests        uint32 `json:"maxRequests"`
	MaxRetries         uint32 `json:"maxRetries"`
}

// Outlier is passive health checking: eject endpoints that keep failing.
type Outlier struct {
	Consecutive5xx     *uint32  `json:"consecutive5xx,omitempty"`
	ConsecutiveGateway *uint32  `json:"consecutiveGateway,omitempty"`
	Interval           Duration `json:"interval,omitempty"`
	BaseEjectionTime   Duration `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent uint32   `json:"maxEjectionPercent,omitempty"`
	// MinHealthPercent is Envoy's healthy panic threshold (Istio sets it, 0 by default).
	MinHealthPercent float64 `json:"minHealthPercent"`
}

// TLS originates TLS to the upstream. Files are paths on the proxy's machine.
type TLS struct {
	ClientCertificate string   `json:"clientCertificate,omitempty"`
	PrivateKey        string   `json:"privateKey,omitempty"`
	CACertificates    string   `json:"caCertificates,omitempty"`
	SNI               string   `json:"sni,omitempty"`
	SubjectAltNames   []string `json:"subjectAltNames,omitempty"`
	// InsecureSkipVerify skips verifying the server certificate (no CA given).
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// SystemRoots verifies the server against the proxy machine's trusted roots: Istio's
	// behaviour when neither caCertificates nor insecureSkipVerify is given, the usual way to
	// originate TLS to a public service.
	SystemRoots bool `json:"systemRoots,omitempty"`
	// ALPN is offered in the handshake, in this order (Istio's ISTIO_MUTUAL offers
	// istio-peer-exchange and istio, which its inbound listeners choose mTLS chains by).
	ALPN []string `json:"alpn,omitempty"`
	// MinVersion and MaxVersion are Istio's names (TLSV1_2…); empty: Envoy's defaults.
	MinVersion string `json:"minVersion,omitempty"`
	MaxVersion string `json:"maxVersion,omitempty"`
}
