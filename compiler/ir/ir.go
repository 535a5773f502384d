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

// Listener is one HTTP listener and its route table.
type Listener struct {
	Name         string         `json:"name,omitempty"` // "<address>_<port>", as Istio names them
	Address      string         `json:"address,omitempty"`
	Port         uint32         `json:"port,omitempty"`
	RouteName    string         `json:"routeName,omitempty"`
	VirtualHosts []*VirtualHost `json:"virtualHosts,omitempty"` // sorted by name
}

// VirtualHost groups the routes of the domains (Host/:authority values) it serves.
type VirtualHost struct {
	Name    string   `json:"name,omitempty"`
	Domains []string `json:"domains,omitempty"`
	Routes  []*Route `json:"routes,omitempty"` // in evaluation order
}

// Route is one match and where it sends traffic.
type Route struct {
	Name     string            `json:"name,omitempty"`
	Match    Match             `json:"match,omitempty"`
	Clusters []WeightedCluster `json:"clusters,omitempty"` // one entry: a plain cluster route
}

// Match is ANDed: the path and every header must match.
type Match struct {
	Path    StringMatch   `json:"path,omitempty"` // Kind "" means prefix "/"
	Headers []HeaderMatch `json:"headers,omitempty"`
}

// StringMatch kinds.
const (
	MatchExact  = "exact"
	MatchPrefix = "prefix"
	MatchRegex  = "regex"
)

// StringMatch is one string matcher.
type StringMatch struct {
	Kind  string `json:"kind,omitempty"`
	Value string `json:"value,omitempty"`
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Name  string      `json:"name,omitempty"`
	Match StringMatch `json:"match,omitempty"`
}

// WeightedCluster is a destination with its relative weight.
type WeightedCluster struct {
	Name   string `json:"name,omitempty"`
	Weight uint32 `json:"weight,omitempty"`
}

// Cluster is one upstream: a service port, optionally narrowed to a subset.
type Cluster struct {
	Name      string     `json:"name,omitempty"` // outbound|PORT|SUBSET|HOST
	Host      string     `json:"host,omitempty"`
	Port      uint32     `json:"port,omitempty"`
	Subset    string     `json:"subset,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"` // sorted by address, port
}

// Endpoint is one upstream address.
type Endpoint struct {
	Address string `json:"address,omitempty"`
	Port    uint32 `json:"port,omitempty"`
	Weight  uint32 `json:"weight,omitempty"`
}
