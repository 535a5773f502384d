package ir

import "slices"

// Route is one match and what it does: forward to clusters, redirect, or answer directly.
// Exactly one of Clusters, Redirect and DirectResponse is set.
type Route struct {
	Name           string            `json:"name,omitempty"`
	Match          Match             `json:"match,omitempty"`
	Clusters       []WeightedCluster `json:"clusters,omitempty"` // one entry: a plain cluster route
	Redirect       *Redirect         `json:"redirect,omitempty"`
	DirectResponse *DirectResponse   `json:"directResponse,omitempty"`

	// Forwarding options, only with Clusters.
	Rewrite *Rewrite     `json:"rewrite,omitempty"`
	Timeout Duration     `json:"timeout"` // 0 disables Envoy's 15 s default, as Istio does
	Retry   *RetryPolicy `json:"retry,omitempty"`
	Mirrors []Mirror     `json:"mirrors,omitempty"`
	Hash    []HashPolicy `json:"hash,omitempty"`

	// Filters configured for this route only.
	Fault *Fault `json:"fault,omitempty"`
	CORS  *CORS  `json:"cors,omitempty"`

	RequestHeaders  HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders HeaderOps `json:"responseHeaders,omitempty"`

	// Source limits the route to some proxies; nil: every proxy of the role.
	Source *Source `json:"source,omitempty"`
}

// Source is which proxies a route is for. Istio builds routes per proxy and leaves out a
// match block whose sourceLabels the proxy's labels do not all carry, or whose
// sourceNamespace is not the proxy's namespace, every route of a VirtualService not
// exported to the proxy's namespace, and the virtual hosts of a ServiceEntry not exported there. signalbox compiles one role for many proxies,
// so the route carries its condition and the publisher serves each proxy the routes that
// apply to it (compiler.Snapshot.Localized).
type Source struct {
	Labels    map[string]string `json:"labels,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	// Namespaces are those whose proxies see the route's VirtualService and, on a sidecar, the
	// ServiceEntry of its virtual host (their exportTo); nil: every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Sidecars are the Sidecar resources whose proxies see the route (its service or
	// VirtualService is among their egress hosts), by "namespace/name"; "" stands for the
	// proxies no Sidecar applies to, and "namespace/name@ns" for the root namespace's Sidecar
	// on the proxies of namespace ns (its "./" hosts are theirs). nil: every proxy. The
	// publisher chooses each proxy's Sidecar from its listener's SidecarScopes.
	Sidecars []string `json:"sidecars,omitempty"`
	// Fallback marks a sidecar's default route for a service whose VirtualService routes all
	// carry conditions: a proxy none of them applies to routes the service as if no
	// VirtualService named it, as Istio does.
	Fallback bool `json:"fallback,omitempty"`
}

// InNamespace reports whether the proxies of namespace ns may be served the route, by its
// namespace conditions alone (sourceNamespace and exportTo); a nil Source is for every proxy.
func (s *Source) InNamespace(ns string) bool {
	return s == nil || (s.Namespaces == nil || slices.Contains(s.Namespaces, ns)) && (s.Namespace == "" || s.Namespace == ns)
}

// Match is ANDed: the path, every header and every query parameter must match.
type Match struct {
	Path StringMatch `json:"path,omitempty"` // Kind "" means prefix "/"
	// IgnoreCase makes the path match case-insensitive (Istio's ignoreUriCase).
	IgnoreCase  bool          `json:"ignoreCase,omitempty"`
	Headers     []HeaderMatch `json:"headers,omitempty"`
	QueryParams []HeaderMatch `json:"queryParams,omitempty"`
}

// StringMatch kinds.
const (
	MatchExact   = "exact"
	MatchPrefix  = "prefix"
	MatchRegex   = "regex"
	MatchPresent = "present" // the header or parameter exists, whatever its value
)

// StringMatch is one string matcher.
type StringMatch struct {
	Kind  string `json:"kind,omitempty"`
	Value string `json:"value,omitempty"`
}

// HeaderMatch matches one request header (pseudo-headers ":method", ":authority" and ":scheme"
// included) or one query parameter. Invert negates it, a missing header counting as empty.
type HeaderMatch struct {
	Name   string      `json:"name,omitempty"`
	Match  StringMatch `json:"match,omitempty"`
	Invert bool        `json:"invert,omitempty"`
}

// WeightedCluster is a destination with its relative weight and its own header operations.
type WeightedCluster struct {
	Name            string    `json:"name,omitempty"`
	Weight          uint32    `json:"weight,omitempty"`
	HostRewrite     string    `json:"hostRewrite,omitempty"` // a destination's own Host
	RequestHeaders  HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders HeaderOps `json:"responseHeaders,omitempty"`
}

// HeaderOps edits headers: Set overwrites, Add appends, Remove deletes. Sorted by name.
type HeaderOps struct {
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Empty reports whether the operations change nothing.
func (h HeaderOps) Empty() bool { return len(h.Set) == 0 && len(h.Add) == 0 && len(h.Remove) == 0 }

// Header is one name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Redirect answers with a redirect; empty fields keep the request's value.
type Redirect struct {
	Scheme    string `json:"scheme,omitempty"`
	Authority string `json:"authority,omitempty"`
	Port      uint32 `json:"port,omitempty"`
	Path      string `json:"path,omitempty"`
	Code      uint32 `json:"code"` // 301, 302, 303, 307 or 308
}

// DirectResponse answers without an upstream. Body is text, BodyBytes raw bytes (one at most).
type DirectResponse struct {
	Status    uint32 `json:"status"`
	Body      string `json:"body,omitempty"`
	BodyBytes []byte `json:"bodyBytes,omitempty"`
}

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	// Prefix replaces the matched path prefix (the whole path for an exact match).
	Prefix string `json:"prefix,omitempty"`
	// RegexMatch and RegexSubstitution rewrite the path with a regular expression.
	RegexMatch        string `json:"regexMatch,omitempty"`
	RegexSubstitution string `json:"regexSubstitution,omitempty"`
	// Authority replaces the Host/:authority header.
	Authority string `json:"authority,omitempty"`
}

// RetryPolicy is Envoy's retry policy; Istio's defaults are filled in by the compiler.
type RetryPolicy struct {
	Attempts      uint32   `json:"attempts"`
	PerTryTimeout Duration `json:"perTryTimeout,omitempty"`
	RetryOn       string   `json:"retryOn"`
	StatusCodes   []uint32 `json:"statusCodes,omitempty"`
	// PreviousHosts avoids retrying on a host already tried (up to HostSelectionAttempts picks).
	PreviousHosts         bool  `json:"previousHosts,omitempty"`
	HostSelectionAttempts int64 `json:"hostSelectionAttempts,omitempty"`
	// Backoff is the base interval of Envoy's exponential backoff; 0 keeps Envoy's 25 ms.
	Backoff Duration `json:"backoff,omitempty"`
}

// Fault injects delays and aborts into a share of requests. Percentages are 0–100.
type Fault struct {
	Delay        Duration `json:"delay,omitempty"`
	DelayPercent float64  `json:"delayPercent,omitempty"`
	// AbortHTTP or AbortGRPC is the status returned; neither means no abort.
	AbortHTTP    uint32  `json:"abortHTTP,omitempty"`
	AbortGRPC    *uint32 `json:"abortGRPC,omitempty"`
	AbortPercent float64 `json:"abortPercent,omitempty"`
}

// Mirror copies a share of requests to another cluster, discarding its responses.
type Mirror struct {
	Cluster string  `json:"cluster"`
	Percent float64 `json:"percent"`
}

// HashPolicy is one consistent-hash key of a route. Exactly one field is set.
type HashPolicy struct {
	Header     string      `json:"header,omitempty"`
	Cookie     *HashCookie `json:"cookie,omitempty"`
	SourceIP   bool        `json:"sourceIP,omitempty"`
	QueryParam string      `json:"queryParam,omitempty"`
}

// HashCookie hashes on a cookie; with a TTL the proxy sets the cookie when it is missing.
type HashCookie struct {
	Name string   `json:"name"`
	Path string   `json:"path,omitempty"`
	TTL  Duration `json:"ttl,omitempty"`
}

// CORS is the cross-origin policy of a route.
type CORS struct {
	AllowOrigins     []StringMatch `json:"allowOrigins,omitempty"`
	AllowMethods     []string      `json:"allowMethods,omitempty"`
	AllowHeaders     []string      `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string      `json:"exposeHeaders,omitempty"`
	MaxAge           Duration      `json:"maxAge,omitempty"`
	AllowCredentials *bool         `json:"allowCredentials,omitempty"`
	// IgnoreUnmatchedPreflights answers preflights whose origin matches no rule instead of
	// forwarding them upstream.
	IgnoreUnmatchedPreflights bool `json:"ignoreUnmatchedPreflights,omitempty"`
}
