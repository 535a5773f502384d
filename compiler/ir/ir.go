// Package ir is the intermediate representation between Istio's API and Envoy's: plain,
// sorted Go values that say what each proxy role does (listeners, virtual hosts, routes,
// clusters, endpoints) with every Istio rule already applied and every name already resolved.
// The xDS stage turns it into protos without making any decision of its own.
package ir

// Mesh is the whole compiled tree: the clusters every role may use and the roles themselves.
type Mesh struct {
	// Clusters sorted by name; a role carries only those its routes reference (sidecar: all).
	Clusters []*Cluster
	Roles    []*Role
}

// Role is one kind of proxy: the sidecar or the gateways sharing one selector.
type Role struct {
	Name      string
	Selector  map[string]string
	Listeners []*Listener // sorted by name
	Clusters  []*Cluster  // sorted by name
}

// Listener is one HTTP listener and its route table.
type Listener struct {
	Name         string // "<address>_<port>", as Istio names them
	Address      string
	Port         uint32
	RouteName    string
	VirtualHosts []*VirtualHost // sorted by name
}

// VirtualHost groups the routes of the domains (Host/:authority values) it serves.
type VirtualHost struct {
	Name    string
	Domains []string
	Routes  []*Route // in evaluation order
}

// Route is one match and where it sends traffic.
type Route struct {
	Name     string
	Match    Match
	Clusters []WeightedCluster // one entry: a plain cluster route
}

// Match is ANDed: the path and every header must match.
type Match struct {
	Path    StringMatch // Kind "" means prefix "/"
	Headers []HeaderMatch
}

// StringMatch kinds.
const (
	MatchExact  = "exact"
	MatchPrefix = "prefix"
	MatchRegex  = "regex"
)

// StringMatch is one string matcher.
type StringMatch struct {
	Kind  string
	Value string
}

// HeaderMatch matches one request header.
type HeaderMatch struct {
	Name  string
	Match StringMatch
}

// WeightedCluster is a destination with its relative weight.
type WeightedCluster struct {
	Name   string
	Weight uint32
}

// Cluster is one upstream: a service port, optionally narrowed to a subset.
type Cluster struct {
	Name      string // outbound|PORT|SUBSET|HOST
	Host      string
	Port      uint32
	Subset    string
	Endpoints []Endpoint // sorted by address, port
}

// Endpoint is one upstream address.
type Endpoint struct {
	Address string
	Port    uint32
	Weight  uint32
}
