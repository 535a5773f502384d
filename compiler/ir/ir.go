// Package ir is the intermediate representation between Istio's API and Envoy's: plain,
// sorted Go values that say what each proxy role does (listeners, virtual hosts, routes,
// clusters, endpoints) with every Istio rule already applied and every name already resolved.
// The xDS stage turns it into protos without making any decision of its own.
package ir

// Mesh is the whole compiled tree: the clusters every role may use and the roles themselves.
type Mesh struct {
	// Clusters sorted by name; a role carries only those its routes reference (sidecar: all).
	Clusters []*Cluster `json:"clusters,omitempty"`
	Roles    []*Role    `json:"roles,omitempty"`
}

// Role is one kind of proxy: the sidecar or the gateways sharing one selector.
type Role struct {
	Name      string            `json:"name,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"`
	Listeners []*Listener       `json:"listeners,omitempty"` // sorted by name
	Clusters  []*Cluster        `json:"clusters,omitempty"`  // sorted by name
}

// Listener is one HTTP listener and its route table, or (TCP set) a gateway's TCP listener,
// which has neither. A gRPC listener (API) is not bound by anyone: proxyless gRPC clients fetch
// it by its "host:port" name and read only its routes.
type Listener struct {
	Name    string `json:"name,omitempty"` // "<address>_<port>", as Istio names them
	Address string `json:"address,omitempty"`
	Port    uint32 `json:"port,omitempty"`
	API     bool   `json:"api,omitempty"`
	// Proxyless writes the routes for proxyless gRPC clients, as Istio does for them: the route
	// timeout as max_stream_duration (gRPC reads no other), and header matches in Envoy's older
	// form (exact_match, prefix_match, safe_regex_match), the only one gRPC C-core 1.51 (Debian's)
	// reads; the meaning is the same.
	Proxyless    bool           `json:"proxyless,omitempty"`
	RouteName    string         `json:"routeName,omitempty"`
	VirtualHosts []*VirtualHost `json:"virtualHosts,omitempty"` // sorted by name
	// Scoped splits the routes into one RouteConfiguration per host, chosen per request by the
	// host part of :authority (Envoy's scoped routes, SRDS), so a commit that changes one
	// service's routes sends that service's table alone instead of every virtual host again.
	// RouteName then names the scoped-routes set.
	Scoped bool `json:"scoped,omitempty"`
	// Sidecars are the Sidecar resources that choose what a sidecar proxy sees, for the
	// publisher to pick each proxy's (Istio's rules: compiler.chooseSidecar); its routes name
	// the ones they are for (Source.Sidecars). Empty: no Sidecar, every route for every proxy.
	Sidecars []SidecarScope `json:"sidecars,omitempty"`
	// Filters the routes need besides the router: "fault" and "cors", in Istio's order.
	Filters []string `json:"filters,omitempty"`
	// UseRemoteAddress: the client is the connection's peer, as Istio sets it on gateways,
	// which face clients directly: the proxy appends the peer's address to X-Forwarded-For and
	// sets X-Forwarded-Proto itself. Without it (the sidecar's outbound listener, whose client
	// is the local workload) X-Forwarded-For passes unchanged, as Envoy passes it.
	UseRemoteAddress bool `json:"useRemoteAddress,omitempty"`
	// ServerName is the Server field of every response the listener sends ("": Envoy's
	// "envoy"). Istio names its gateways "istio-envoy" and leaves the sidecar's outbound
	// listener at Envoy's default.
	ServerName string `json:"serverName,omitempty"`
	// Headers are what Istio's proxyHeaders turn off on the listener's connection manager:
	// the Server field (responses keep the upstream's own, PASS_THROUGH), generated
	// x-request-ids, and the router's x-envoy-* debug headers. The zero value is Envoy's.
	Headers HeadersOff `json:"headersOff,omitzero"`
	// SetClientCert: x-forwarded-client-cert is replaced by the client certificate's subject,
	// PEM, URI and DNS names on connections that present one (Envoy's SANITIZE_SET), as on
	// Istio's gateways; otherwise, and on other listeners, the field is stripped.
	SetClientCert bool `json:"setClientCert,omitempty"`
	// TLS, when set, terminates TLS on the listener (a Gateway's HTTPS servers on its port).
	TLS *ServerTLS `json:"tls,omitempty"`
	// ServerNames, when set, says several listeners share this name (a port whose HTTPS servers
	// present different certificates): each is one filter chain of that Envoy listener, chosen
	// by the client's SNI among these names. Without it beside such listeners, the chain taking
	// every other name.
	ServerNames []string `json:"serverNames,omitempty"`
	// Authentication, when set, verifies request tokens ahead of Authorization (gateways only:
	// the same value on every listener of the role).
	Authentication *Authentication `json:"authentication,omitempty"`
	// Authorization, when set, is enforced by RBAC filters ahead of Filters, or ahead of the TCP
	// proxy on a TCP listener (gateways only: the same value on every HTTP listener of the role,
	// and its connection-only form on every TCP listener).
	Authorization *Authorization `json:"authorization,omitempty"`
	// TCP, when set, makes this a gateway's TCP listener (a Gateway server of protocol TCP):
	// every connection is forwarded whole to the destinations of one VirtualService tcp route.
	TCP *TCPProxy `json:"tcp,omitempty"`
	// Passthrough, when set, makes this a gateway's TLS passthrough listener (Gateway servers
	// with tls.mode PASSTHROUGH): each connection is routed by the server name of its TLS
	// ClientHello, without being decrypted, to the TCP proxy of the first route naming it.
	Passthrough []*SNIRoute `json:"passthrough,omitempty"`
}

// ForwardsConnections says the listener forwards whole connections (TCP or TLS passthrough)
// rather than HTTP requests: no routes, no request filters, connection-level authorization.
func (l *Listener) ForwardsConnections() bool {
	return l.TCP != nil || len(l.Passthrough) > 0
}

// SNIRoute is one filter chain of a TLS passthrough listener: connections whose SNI is one of
// ServerNames ("*.example.com" matching any name under example.com) go to TCP; without
// ServerNames (a route for sniHosts "*"), those no other route takes, SNI or not.
type SNIRoute struct {
	ServerNames []string  `json:"serverNames,omitempty"`
	TCP         *TCPProxy `json:"tcp"`
}

// TCPProxy forwards connections as Istio's outbound network filters do: a route with one
// destination names its cluster; a route with several splits connections by weight.
type TCPProxy struct {
	// StatPrefix is Istio's: the cluster name for one destination, "<name>.<namespace>" of the
	// VirtualService for several.
	StatPrefix string `json:"statPrefix,omitempty"`
	// Cluster is the lone destination; Clusters, when Cluster is empty, the weighted ones
	// (relative weights, zero weights dropped; Istio keeps this form even when one remains).
	Cluster  string            `json:"cluster,omitempty"`
	Clusters []WeightedCluster `json:"clusters,omitempty"`
	// IdleTimeout closes a connection idle that long (0: never); nil leaves the proxy's default.
	IdleTimeout *Duration `json:"idleTimeout,omitempty"`
}

// ServerTLS is a gateway listener's TLS termination, as a Gateway server's tls asks it, with
// the certificate and key (and, to verify clients, the CA) read from files on the gateway
// proxy's machine.
type ServerTLS struct {
	CertificateChain string `json:"certificateChain,omitempty"`
	PrivateKey       string `json:"privateKey,omitempty"`
	// CACertificates verifies client certificates: required with RequireClientCertificate
	// (MUTUAL), checked when presented without it (OPTIONAL_MUTUAL).
	CACertificates           string   `json:"caCertificates,omitempty"`
	RequireClientCertificate bool     `json:"requireClientCertificate,omitempty"`
	SubjectAltNames          []string `json:"subjectAltNames,omitempty"` // a client certificate must carry one
	// MinVersion and MaxVersion are Istio's names (TLSV1_2…); empty: TLS 1.2 and the newest.
	MinVersion   string   `json:"minVersion,omitempty"`
	MaxVersion   string   `json:"maxVersion,omitempty"`
	CipherSuites []string `json:"cipherSuites,omitempty"`
}

// HTTP filters a listener may carry before the router.
const (
	FilterFault = "fault"
	FilterCORS  = "cors"
)

// VirtualHost groups the routes of the domains (Host/:authority values) it serves.
type VirtualHost struct {
	Name    string   `json:"name,omitempty"`
	Domains []string `json:"domains,omitempty"`
	Routes  []*Route `json:"routes,omitempty"` // in evaluation order
	// RequireTLS redirects every plain-text request to https (a Gateway server's
	// tls.httpsRedirect).
	RequireTLS bool `json:"requireTls,omitempty"`
	// NoAttemptCount leaves x-envoy-attempt-count out of forwarded requests (Istio's
	// proxyHeaders.attemptCount.disabled); Istio sends it by default.
	NoAttemptCount bool `json:"noAttemptCount,omitempty"`
}

// HeadersOff are the connection manager's headers Istio's proxyHeaders turned off.
type HeadersOff struct {
	Server       bool `json:"server,omitempty"`
	RequestID    bool `json:"requestId,omitempty"`
	EnvoyHeaders bool `json:"envoyDebugHeaders,omitempty"`
}

// SidecarScope is one Sidecar resource as the publisher needs it to choose a proxy's: its
// name ("namespace/name"), namespace and workload selector (Selected: it has one, even empty).
type SidecarScope struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Selected  bool              `json:"selected,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"`
}
