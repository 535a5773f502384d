package diff

// Change is one thing proxies will do differently. Role, Host and Route say where (Host is an
// Envoy virtual host, "reviews.default.svc.cluster.local:9080"); Cluster and Listener name the
// resource for changes outside routes. What is the kind of change; Before and After describe
// the two sides in words ("" when that side does not exist).
type Change struct {
	Role     string `json:"role,omitempty"`
	Host     string `json:"host,omitempty"`
	Route    string `json:"route,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	Listener string `json:"listener,omitempty"`
	What     string `json:"what"`
	Before   string `json:"before,omitempty"`
	After    string `json:"after,omitempty"`
}

// The kinds of change (Change.What).
const (
	RoleAdded       = "role added"
	RoleRemoved     = "role removed"
	HostAdded       = "host added"
	HostRemoved     = "host removed"
	HostSettings    = "host settings"
	Domains         = "domains"
	RouteAdded      = "route added"
	RouteRemoved    = "route removed"
	RouteOrder      = "route order"
	RouteRenamed    = "route renamed"
	Match           = "match"
	Weights         = "weights"
	Destinations    = "destinations"
	Timeout         = "timeout"
	Retries         = "retries"
	RouteSettings   = "route settings"
	ClusterAdded    = "cluster added"
	ClusterRemoved  = "cluster removed"
	Endpoints       = "endpoints"
	ClusterSettings = "cluster settings"
	// LocalityLB is a cluster's localityLbSetting: which endpoints each proxy prefers by where
	// it runs.
	LocalityLB      = "locality load balancing"
	ListenerAdded   = "listener added"
	ListenerRemoved = "listener removed"
	ListenerChanged = "listener settings"
	SNIRouteAdded   = "sni route added"   // a server name a passthrough listener now routes
	SNIRouteRemoved = "sni route removed" // one it no longer routes (connections are closed)
	// HTTPFilters and HTTPFilterSettings are a listener's HTTP filters: where authorization,
	// authentication and faults are enforced.
	HTTPFilters        = "http filters"
	HTTPFilterSettings = "http filter settings"
	// Sidecars are the Sidecar resources a sidecar's listener carries, from which each proxy's
	// is chosen: what it sees (its routes say which Sidecars admit them).
	Sidecars = "sidecars"
)

// splitKinds are the changes that alter where requests go: the hosts they touch are drawn.
var splitKinds = map[string]bool{HostAdded: true, HostRemoved: true, RouteAdded: true, RouteRemoved: true,
	RouteOrder: true, Match: true, Weights: true, Destinations: true}

// Side names one end of the comparison: the revision or file it came from, and its version.
type Side struct {
	Ref     string `json:"ref,omitempty"`
	Version string `json:"version"`
}

// Report is every traffic change between two snapshots, in a stable order: per role (sidecar
// first), per virtual host, per route in route order; then clusters, then listeners.
type Report struct {
	Base    Side     `json:"base"`
	Head    Side     `json:"head"`
	Changes []Change `json:"changes"`
	// splits are the changed hosts' routes before and after, for the diagram.
	splits []split
}

type split struct {
	role, host    string
	before, after *hostView
}

// Changed reports whether proxies would see any difference.
func (r *Report) Changed() bool { return len(r.Changes) > 0 }
