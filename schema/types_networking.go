package schema

// The typed policies below mirror Istio's networking.istio.io API field for field (JSON names are
// Istio's). CUE (schemas/*.cue) is the authority on what is accepted; these structs only carry
// values that already passed validation into later stages. Durations stay strings ("1.5s"):
// ParseDuration reads them. Wrapper types of Istio's protos (BoolValue, UInt32Value) are
// pointers, so that "absent" and "zero" stay apart.

// VirtualService is networking.istio.io VirtualService.
type VirtualService struct {
	Hosts    []string    `json:"hosts,omitempty"`
	Gateways []string    `json:"gateways,omitempty"`
	HTTP     []HTTPRoute `json:"http,omitempty"`
	TLS      []TLSRoute  `json:"tls,omitempty"`
	TCP      []TCPRoute  `json:"tcp,omitempty"`
	ExportTo []string    `json:"exportTo,omitempty"`
}

// HTTPRoute is one ordered rule of a VirtualService.
type HTTPRoute struct {
	Name           string                 `json:"name,omitempty"`
	Match          []HTTPMatchRequest     `json:"match,omitempty"`
	Route          []HTTPRouteDestination `json:"route,omitempty"`
	Redirect       *HTTPRedirect          `json:"redirect,omitempty"`
	DirectResponse *HTTPDirectResponse    `json:"directResponse,omitempty"`
	Delegate       *Delegate              `json:"delegate,omitempty"`
	Rewrite        *HTTPRewrite           `json:"rewrite,omitempty"`
	Timeout        string                 `json:"timeout,omitempty"`
	Retries        *HTTPRetry             `json:"retries,omitempty"`
	Fault          *HTTPFaultInjection    `json:"fault,omitempty"`
	Mirror         *Destination           `json:"mirror,omitempty"`
	Mirrors        []HTTPMirrorPolicy     `json:"mirrors,omitempty"`
	// MirrorPercent is the deprecated whole-percent form ("mirror_percent" is accepted as well).
	MirrorPercent    *uint32        `json:"mirrorPercent,omitempty"`
	MirrorPercentage *Percent       `json:"mirrorPercentage,omitempty"`
	CorsPolicy       *CorsPolicy    `json:"corsPolicy,omitempty"`
	Headers          *HeadersPolicy `json:"headers,omitempty"`
}

// HTTPMatchRequest is ANDed inside, ORed with its siblings.
type HTTPMatchRequest struct {
	Name            string                 `json:"name,omitempty"`
	URI             *StringMatch           `json:"uri,omitempty"`
	Scheme          *StringMatch           `json:"scheme,omitempty"`
	Method          *StringMatch           `json:"method,omitempty"`
	Authority       *StringMatch           `json:"authority,omitempty"`
	Headers         map[string]StringMatch `json:"headers,omitempty"`
	Port            uint32                 `json:"port,omitempty"`
	SourceLabels    map[string]string      `json:"sourceLabels,omitempty"`
	Gateways        []string               `json:"gateways,omitempty"`
	QueryParams     map[string]StringMatch `json:"queryParams,omitempty"`
	IgnoreURICase   bool                   `json:"ignoreUriCase,omitempty"`
	WithoutHeaders  map[string]StringMatch `json:"withoutHeaders,omitempty"`
	SourceNamespace string                 `json:"sourceNamespace,omitempty"`
	StatPrefix      string                 `json:"statPrefix,omitempty"`
}

// StringMatch is Istio's one-of string matcher. An empty StringMatch ({} in YAML) matches the
// presence of a header or query parameter.
type StringMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

// HTTPRouteDestination is a weighted destination.
type HTTPRouteDestination struct {
	Destination Destination    `json:"destination"`
	Weight      *int32         `json:"weight,omitempty"`
	Headers     *HeadersPolicy `json:"headers,omitempty"`
}

// Destination names a service, optionally a subset and a port.
type Destination struct {
	Host   string        `json:"host"`
	Subset string        `json:"subset,omitempty"`
	Port   *PortSelector `json:"port,omitempty"`
}

// PortSelector selects a service port by number.
type PortSelector struct {
	Number uint32 `json:"number,omitempty"`
}

// HTTPRedirect answers with a redirect instead of forwarding.
type HTTPRedirect struct {
	URI       string `json:"uri,omitempty"`
	Authority string `json:"authority,omitempty"`
	Port      uint32 `json:"port,omitempty"`
	// DerivePort is FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT.
	DerivePort   string `json:"derivePort,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	RedirectCode uint32 `json:"redirectCode,omitempty"`
}

// HTTPDirectResponse answers with a fixed status and body.
type HTTPDirectResponse struct {
	Status uint32    `json:"status"`
	Body   *HTTPBody `json:"body,omitempty"`
}

// HTTPBody is a one-of: String, or Bytes as written in YAML (standard base64, padded).
type HTTPBody struct {
	String string `json:"string,omitempty"`
	Bytes  string `json:"bytes,omitempty"`
}

// Delegate hands a route to another VirtualService.
type Delegate struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// HTTPRewrite rewrites the request before forwarding.
type HTTPRewrite struct {
	URI             string        `json:"uri,omitempty"`
	Authority       string        `json:"authority,omitempty"`
	URIRegexRewrite *RegexRewrite `json:"uriRegexRewrite,omitempty"`
}

// RegexRewrite replaces what Match matches with Rewrite (RE2, \1 style groups).
type RegexRewrite struct {
	Match   string `json:"match,omitempty"`
	Rewrite string `json:"rewrite,omitempty"`
}

// HTTPRetry is a route's retry policy.
type HTTPRetry struct {
	Attempts                 int32  `json:"attempts,omitempty"`
	PerTryTimeout            string `json:"perTryTimeout,omitempty"`
	RetryOn                  string `json:"retryOn,omitempty"`
	RetryRemoteLocalities    *bool  `json:"retryRemoteLocalities,omitempty"`
	RetryIgnorePreviousHosts *bool  `json:"retryIgnorePreviousHosts,omitempty"`
	Backoff                  string `json:"backoff,omitempty"`
}

// HTTPFaultInjection delays or aborts requests.
type HTTPFaultInjection struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay delays a fraction of requests by FixedDelay.
type FaultDelay struct {
	FixedDelay       string   `json:"fixedDelay,omitempty"`
	ExponentialDelay string   `json:"exponentialDelay,omitempty"`
	Percentage       *Percent `json:"percentage,omitempty"`
	// Percent is the deprecated whole-percent form of Percentage.
	Percent int32 `json:"percent,omitempty"`
}

// FaultAbort aborts a fraction of requests; exactly one of the error kinds is set.
type FaultAbort struct {
	HTTPStatus int32    `json:"httpStatus,omitempty"`
	GRPCStatus string   `json:"grpcStatus,omitempty"`
	HTTP2Error string   `json:"http2Error,omitempty"`
	Percentage *Percent `json:"percentage,omitempty"`
}

// Percent is a percentage in [0, 100] with a fraction.
type Percent struct {
	Value float64 `json:"value"`
}

// HTTPMirrorPolicy mirrors a share of the traffic to Destination.
type HTTPMirrorPolicy struct {
	Destination Destination `json:"destination"`
	Percentage  *Percent    `json:"percentage,omitempty"`
}

// CorsPolicy is a route's CORS policy.
type CorsPolicy struct {
	// AllowOrigin is the deprecated exact-origin list; AllowOrigins replaces it.
	AllowOrigin         []string      `json:"allowOrigin,omitempty"`
	AllowOrigins        []StringMatch `json:"allowOrigins,omitempty"`
	AllowMethods        []string      `json:"allowMethods,omitempty"`
	AllowHeaders        []string      `json:"allowHeaders,omitempty"`
	ExposeHeaders       []string      `json:"exposeHeaders,omitempty"`
	MaxAge              string        `json:"maxAge,omitempty"`
	AllowCredentials    *bool         `json:"allowCredentials,omitempty"`
	UnmatchedPreflights string        `json:"unmatchedPreflights,omitempty"`
}

// HeadersPolicy changes request and response headers.
type HeadersPolicy struct {
	Request  *HeaderOperations `json:"request,omitempty"`
	Response *HeaderOperations `json:"response,omitempty"`
}

// HeaderOperations sets (overwrites), adds (appends) and removes headers.
type HeaderOperations struct {
	Set    map[string]string `json:"set,omitempty"`
	Add    map[string]string `json:"add,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// TLSRoute routes TLS connections by SNI without terminating them.
type TLSRoute struct {
	Match []TLSMatchAttributes `json:"match"`
	Route []RouteDestination   `json:"route,omitempty"`
}

// TLSMatchAttributes selects TLS connections.
type TLSMatchAttributes struct {
	SNIHosts           []string          `json:"sniHosts"`
	DestinationSubnets []string          `json:"destinationSubnets,omitempty"`
	Port               uint32            `json:"port,omitempty"`
	SourceLabels       map[string]string `json:"sourceLabels,omitempty"`
	Gateways           []string          `json:"gateways,omitempty"`
	SourceNamespace    string            `json:"sourceNamespace,omitempty"`
}

// TCPRoute routes TCP connections.
type TCPRoute struct {
	Match []L4MatchAttributes `json:"match,omitempty"`
	Route []RouteDestination  `json:"route,omitempty"`
}

// L4MatchAttributes selects TCP connections.
type L4MatchAttributes struct {
	DestinationSubnets []string          `json:"destinationSubnets,omitempty"`
	Port               uint32            `json:"port,omitempty"`
	SourceSubnet       string            `json:"sourceSubnet,omitempty"`
	SourceLabels       map[string]string `json:"sourceLabels,omitempty"`
	Gateways           []string          `json:"gateways,omitempty"`
	SourceNamespace    string            `json:"sourceNamespace,omitempty"`
}

// RouteDestination is a weighted destination of a TCP or TLS route.
type RouteDestination struct {
	Destination Destination `json:"destination"`
	Weight      *int32      `json:"weight,omitempty"`
}

// DestinationRule is networking.istio.io DestinationRule.
type DestinationRule struct {
	Host             string            `json:"host"`
	TrafficPolicy    *TrafficPolicy    `json:"trafficPolicy,omitempty"`
	Subsets          []Subset          `json:"subsets,omitempty"`
	ExportTo         []string          `json:"exportTo,omitempty"`
	WorkloadSelector *WorkloadSelector `json:"workloadSelector,omitempty"`
}

// Subset is a named group of endpoints selected by labels.
type Subset struct {
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels,omitempty"`
	TrafficPolicy *TrafficPolicy    `json:"trafficPolicy,omitempty"`
}

// WorkloadSelector selects workloads by labels (matchLabels in Istio).
type WorkloadSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// TrafficPolicy is how traffic to a destination is handled.
type TrafficPolicy struct {
	LoadBalancer      *LoadBalancerSettings   `json:"loadBalancer,omitempty"`
	ConnectionPool    *ConnectionPoolSettings `json:"connectionPool,omitempty"`
	OutlierDetection  *OutlierDetection       `json:"outlierDetection,omitempty"`
	TLS               *ClientTLSSettings      `json:"tls,omitempty"`
	PortLevelSettings []PortTrafficPolicy     `json:"portLevelSettings,omitempty"`
	Tunnel            *TunnelSettings         `json:"tunnel,omitempty"`
	ProxyProtocol     *ProxyProtocol          `json:"proxyProtocol,omitempty"`
	RetryBudget       *RetryBudget            `json:"retryBudget,omitempty"`
}

// PortTrafficPolicy is a TrafficPolicy for one port.
type PortTrafficPolicy struct {
	Port             *PortSelector           `json:"port,omitempty"`
	LoadBalancer     *LoadBalancerSettings   `json:"loadBalancer,omitempty"`
	ConnectionPool   *ConnectionPoolSettings `json:"connectionPool,omitempty"`
	OutlierDetection *OutlierDetection       `json:"outlierDetection,omitempty"`
	TLS              *ClientTLSSettings      `json:"tls,omitempty"`
}

// LoadBalancerSettings is a one-of: Simple or ConsistentHash.
type LoadBalancerSettings struct {
	// Simple is UNSPECIFIED, RANDOM, PASSTHROUGH, ROUND_ROBIN or LEAST_REQUEST (LEAST_CONN is
	// its deprecated alias).
	Simple             string                       `json:"simple,omitempty"`
	ConsistentHash     *ConsistentHashLB            `json:"consistentHash,omitempty"`
	LocalityLbSetting  *LocalityLoadBalancerSetting `json:"localityLbSetting,omitempty"`
	WarmupDurationSecs string                       `json:"warmupDurationSecs,omitempty"`
	Warmup             *WarmupConfiguration         `json:"warmup,omitempty"`
}

// WarmupConfiguration is slow start for new endpoints.
type WarmupConfiguration struct {
	Duration       string   `json:"duration,omitempty"`
	MinimumPercent *float64 `json:"minimumPercent,omitempty"`
	Aggression     *float64 `json:"aggression,omitempty"`
}

// ConsistentHashLB hashes one of a header, a cookie, the source IP or a query parameter.
type ConsistentHashLB struct {
	HTTPHeaderName         string      `json:"httpHeaderName,omitempty"`
	HTTPCookie             *HTTPCookie `json:"httpCookie,omitempty"`
	UseSourceIP            bool        `json:"useSourceIp,omitempty"`
	HTTPQueryParameterName string      `json:"httpQueryParameterName,omitempty"`
	RingHash               *RingHash   `json:"ringHash,omitempty"`
	Maglev                 *MagLev     `json:"maglev,omitempty"`
	// MinimumRingSize is the deprecated form of RingHash.MinimumRingSize.
	MinimumRingSize uint64 `json:"minimumRingSize,omitempty"`
}

// HTTPCookie is the cookie a consistent hash reads (and sets when TTL is given).
type HTTPCookie struct {
	Name       string            `json:"name"`
	Path       string            `json:"path,omitempty"`
	TTL        string            `json:"ttl,omitempty"`
	Attributes []CookieAttribute `json:"attributes,omitempty"`
}

// CookieAttribute is an extra attribute of a generated cookie.
type CookieAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// RingHash is the ring-hash algorithm.
type RingHash struct {
	MinimumRingSize uint64 `json:"minimumRingSize,omitempty"`
}

// MagLev is the Maglev algorithm.
type MagLev struct {
	TableSize uint64 `json:"tableSize,omitempty"`
}

// LocalityLoadBalancerSetting shapes traffic across localities.
type LocalityLoadBalancerSetting struct {
	Distribute       []LocalityDistribute `json:"distribute,omitempty"`
	Failover         []LocalityFailover   `json:"failover,omitempty"`
	FailoverPriority []string             `json:"failoverPriority,omitempty"`
	Enabled          *bool                `json:"enabled,omitempty"`
}

// LocalityDistribute sends traffic from one locality to others by weight.
type LocalityDistribute struct {
	From string            `json:"from,omitempty"`
	To   map[string]uint32 `json:"to,omitempty"`
}

// LocalityFailover names the region to fail over to.
type LocalityFailover struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// ConnectionPoolSettings bounds connections to a destination.
type ConnectionPoolSettings struct {
	TCP  *TCPSettings  `json:"tcp,omitempty"`
	HTTP *HTTPSettings `json:"http,omitempty"`
}

// TCPSettings are the TCP connection-pool settings.
type TCPSettings struct {
	MaxConnections        int32         `json:"maxConnections,omitempty"`
	ConnectTimeout        string        `json:"connectTimeout,omitempty"`
	TCPKeepalive          *TCPKeepalive `json:"tcpKeepalive,omitempty"`
	MaxConnectionDuration string        `json:"maxConnectionDuration,omitempty"`
	IdleTimeout           string        `json:"idleTimeout,omitempty"`
}

// TCPKeepalive sets SO_KEEPALIVE probes.
type TCPKeepalive struct {
	Probes   uint32 `json:"probes,omitempty"`
	Time     string `json:"time,omitempty"`
	Interval string `json:"interval,omitempty"`
}

// HTTPSettings are the HTTP connection-pool settings.
type HTTPSettings struct {
	HTTP1MaxPendingRequests  int32  `json:"http1MaxPendingRequests,omitempty"`
	HTTP2MaxRequests         int32  `json:"http2MaxRequests,omitempty"`
	MaxRequestsPerConnection int32  `json:"maxRequestsPerConnection,omitempty"`
	MaxRetries               int32  `json:"maxRetries,omitempty"`
	IdleTimeout              string `json:"idleTimeout,omitempty"`
	// H2UpgradePolicy is DEFAULT, DO_NOT_UPGRADE or UPGRADE.
	H2UpgradePolicy      string          `json:"h2UpgradePolicy,omitempty"`
	UseClientProtocol    bool            `json:"useClientProtocol,omitempty"`
	MaxConcurrentStreams int32           `json:"maxConcurrentStreams,omitempty"`
	HTTP2KeepAlive       *HTTP2KeepAlive `json:"http2KeepAlive,omitempty"`
}

// HTTP2KeepAlive sends HTTP/2 PINGs on idle connections.
type HTTP2KeepAlive struct {
	Interval string `json:"interval,omitempty"`
	Timeout  string `json:"timeout,omitempty"`
}

// OutlierDetection ejects failing endpoints.
type OutlierDetection struct {
	// ConsecutiveErrors is deprecated; Consecutive5xxErrors replaces it.
	ConsecutiveErrors              int32   `json:"consecutiveErrors,omitempty"`
	SplitExternalLocalOriginErrors bool    `json:"splitExternalLocalOriginErrors,omitempty"`
	ConsecutiveLocalOriginFailures *uint32 `json:"consecutiveLocalOriginFailures,omitempty"`
	ConsecutiveGatewayErrors       *uint32 `json:"consecutiveGatewayErrors,omitempty"`
	Consecutive5xxErrors           *uint32 `json:"consecutive5xxErrors,omitempty"`
	Interval                       string  `json:"interval,omitempty"`
	BaseEjectionTime               string  `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent             int32   `json:"maxEjectionPercent,omitempty"`
	MinHealthPercent               int32   `json:"minHealthPercent,omitempty"`
}

// ClientTLSSettings is how a sidecar originates TLS to a destination.
type ClientTLSSettings struct {
	// Mode is DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL.
	Mode               string   `json:"mode,omitempty"`
	ClientCertificate  string   `json:"clientCertificate,omitempty"`
	PrivateKey         string   `json:"privateKey,omitempty"`
	CACertificates     string   `json:"caCertificates,omitempty"`
	CredentialName     string   `json:"credentialName,omitempty"`
	SubjectAltNames    []string `json:"subjectAltNames,omitempty"`
	SNI                string   `json:"sni,omitempty"`
	InsecureSkipVerify *bool    `json:"insecureSkipVerify,omitempty"`
	CACrl              string   `json:"caCrl,omitempty"`
}

// TunnelSettings tunnels TCP over HTTP CONNECT or POST.
type TunnelSettings struct {
	Protocol   string `json:"protocol,omitempty"`
	TargetHost string `json:"targetHost"`
	TargetPort uint32 `json:"targetPort"`
}

// ProxyProtocol sends the PROXY protocol header upstream (version V1 or V2).
type ProxyProtocol struct {
	Version string `json:"version,omitempty"`
}

// RetryBudget caps retries as a share of active requests.
type RetryBudget struct {
	Percent             *float64 `json:"percent,omitempty"`
	MinRetryConcurrency uint32   `json:"minRetryConcurrency,omitempty"`
}

// ServiceEntry is networking.istio.io ServiceEntry.
type ServiceEntry struct {
	Hosts            []string           `json:"hosts"`
	Addresses        []string           `json:"addresses,omitempty"`
	Ports            []ServicePort      `json:"ports,omitempty"`
	Location         string             `json:"location,omitempty"`
	Resolution       string             `json:"resolution,omitempty"`
	Endpoints        []WorkloadEndpoint `json:"endpoints,omitempty"`
	WorkloadSelector *EntrySelector     `json:"workloadSelector,omitempty"`
	ExportTo         []string           `json:"exportTo,omitempty"`
	SubjectAltNames  []string           `json:"subjectAltNames,omitempty"`
}

// EntrySelector selects the workloads of a ServiceEntry by labels (the field is "labels" here,
// unlike WorkloadSelector's "matchLabels").
type EntrySelector struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// ServicePort is a port a service exposes.
type ServicePort struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol,omitempty"`
	Name       string `json:"name,omitempty"`
	TargetPort uint32 `json:"targetPort,omitempty"`
	// TargetPortName is set for a Kubernetes Service port whose targetPort is a name: each
	// endpoint's port of that name in its ports, an endpoint without one not serving this
	// port. A ServiceEntry has no such field.
	TargetPortName string `json:"-"`
}

// WorkloadEndpoint is one endpoint of a ServiceEntry, and the spec of a WorkloadEntry.
type WorkloadEndpoint struct {
	Address        string            `json:"address,omitempty"`
	Ports          map[string]uint32 `json:"ports,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Network        string            `json:"network,omitempty"`
	Locality       string            `json:"locality,omitempty"`
	Weight         uint32            `json:"weight,omitempty"`
	ServiceAccount string            `json:"serviceAccount,omitempty"`
}

// WorkloadEntry is networking.istio.io WorkloadEntry: one non-Kubernetes workload.
type WorkloadEntry = WorkloadEndpoint

// Gateway is networking.istio.io Gateway.
type Gateway struct {
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []Server          `json:"servers"`
}

// Server is one listening port of a Gateway.
type Server struct {
	Port            GatewayPort        `json:"port"`
	Bind            string             `json:"bind,omitempty"`
	Hosts           []string           `json:"hosts"`
	TLS             *ServerTLSSettings `json:"tls,omitempty"`
	DefaultEndpoint string             `json:"defaultEndpoint,omitempty"`
	Name            string             `json:"name,omitempty"`
}

// GatewayPort is the port a Gateway server listens on. Protocol is HTTP, HTTPS, GRPC, GRPC-WEB,
// HTTP2, MONGO, TCP or TLS (upper-cased on load).
type GatewayPort struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol"`
	Name       string `json:"name,omitempty"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// ServerTLSSettings is how a Gateway server terminates (or passes through) TLS.
type ServerTLSSettings struct {
	HTTPSRedirect bool `json:"httpsRedirect,omitempty"`
	// Mode is PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL or OPTIONAL_MUTUAL.
	Mode                  string           `json:"mode,omitempty"`
	ServerCertificate     string           `json:"serverCertificate,omitempty"`
	PrivateKey            string           `json:"privateKey,omitempty"`
	CACertificates        string           `json:"caCertificates,omitempty"`
	CACrl                 string           `json:"caCrl,omitempty"`
	CredentialName        string           `json:"credentialName,omitempty"`
	CredentialNames       []string         `json:"credentialNames,omitempty"`
	TLSCertificates       []TLSCertificate `json:"tlsCertificates,omitempty"`
	SubjectAltNames       []string         `json:"subjectAltNames,omitempty"`
	VerifyCertificateSpki []string         `json:"verifyCertificateSpki,omitempty"`
	VerifyCertificateHash []string         `json:"verifyCertificateHash,omitempty"`
	// MinProtocolVersion and MaxProtocolVersion are TLS_AUTO, TLSV1_0 … TLSV1_3.
	MinProtocolVersion string   `json:"minProtocolVersion,omitempty"`
	MaxProtocolVersion string   `json:"maxProtocolVersion,omitempty"`
	CipherSuites       []string `json:"cipherSuites,omitempty"`
}

// TLSCertificate is one server certificate of several (RSA and ECDSA side by side).
type TLSCertificate struct {
	ServerCertificate string `json:"serverCertificate,omitempty"`
	PrivateKey        string `json:"privateKey,omitempty"`
	CACertificates    string `json:"caCertificates,omitempty"`
}

// Sidecar is networking.istio.io Sidecar: what the sidecars it applies to see (egress hosts).
type Sidecar struct {
	WorkloadSelector      *EntrySelector          `json:"workloadSelector,omitempty"`
	Ingress               []IstioIngressListener  `json:"ingress,omitempty"`
	Egress                []IstioEgressListener   `json:"egress,omitempty"`
	InboundConnectionPool *ConnectionPoolSettings `json:"inboundConnectionPool,omitempty"`
	OutboundTrafficPolicy *OutboundTrafficPolicy  `json:"outboundTrafficPolicy,omitempty"`
}

// IstioEgressListener is one egress listener of a Sidecar: the hosts ("namespace/dnsName") its
// proxies see, on a port or (no port) on every port.
type IstioEgressListener struct {
	Port        *SidecarPort `json:"port,omitempty"`
	Bind        string       `json:"bind,omitempty"`
	CaptureMode string       `json:"captureMode,omitempty"`
	Hosts       []string     `json:"hosts,omitempty"`
}

// IstioIngressListener is one inbound listener of a Sidecar.
type IstioIngressListener struct {
	Port            SidecarPort             `json:"port"`
	Bind            string                  `json:"bind,omitempty"`
	CaptureMode     string                  `json:"captureMode,omitempty"`
	DefaultEndpoint string                  `json:"defaultEndpoint,omitempty"`
	TLS             *ServerTLSSettings      `json:"tls,omitempty"`
	ConnectionPool  *ConnectionPoolSettings `json:"connectionPool,omitempty"`
}

// SidecarPort is the port of a Sidecar listener.
type SidecarPort struct {
	Number     uint32 `json:"number,omitempty"`
	Protocol   string `json:"protocol,omitempty"`
	Name       string `json:"name,omitempty"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// OutboundTrafficPolicy is what a Sidecar's proxies do with a host they do not know.
type OutboundTrafficPolicy struct {
	Mode        string       `json:"mode,omitempty"`
	EgressProxy *Destination `json:"egressProxy,omitempty"`
}
