package schema

// The typed policies below mirror Istio's API field for field (JSON names are Istio's), for the
// subset signalbox compiles. CUE (schemas/*.cue) is the authority on what is accepted; these
// structs only carry values that already passed validation into the compiler.

// VirtualService is networking.istio.io VirtualService.
type VirtualService struct {
	Hosts    []string    `json:"hosts,omitempty"`
	Gateways []string    `json:"gateways,omitempty"`
	HTTP     []HTTPRoute `json:"http,omitempty"`
}

// HTTPRoute is one ordered rule of a VirtualService.
type HTTPRoute struct {
	Name  string                 `json:"name,omitempty"`
	Match []HTTPMatchRequest     `json:"match,omitempty"`
	Route []HTTPRouteDestination `json:"route,omitempty"`
}

// HTTPMatchRequest is ANDed inside, ORed with its siblings.
type HTTPMatchRequest struct {
	Name    string                 `json:"name,omitempty"`
	URI     *StringMatch           `json:"uri,omitempty"`
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// StringMatch is Istio's one-of string matcher.
type StringMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

// HTTPRouteDestination is a weighted destination.
type HTTPRouteDestination struct {
	Destination Destination `json:"destination"`
	Weight      *int32      `json:"weight,omitempty"`
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

// DestinationRule is networking.istio.io DestinationRule.
type DestinationRule struct {
	Host    string   `json:"host"`
	Subsets []Subset `json:"subsets,omitempty"`
}

// Subset is a named group of endpoints selected by labels.
type Subset struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
}

// ServiceEntry is networking.istio.io ServiceEntry.
type ServiceEntry struct {
	Hosts      []string           `json:"hosts"`
	Addresses  []string           `json:"addresses,omitempty"`
	Ports      []ServicePort      `json:"ports,omitempty"`
	Location   string             `json:"location,omitempty"`
	Resolution string             `json:"resolution,omitempty"`
	Endpoints  []WorkloadEndpoint `json:"endpoints,omitempty"`
}

// ServicePort is a port a service exposes.
type ServicePort struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol,omitempty"`
	Name       string `json:"name,omitempty"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

// WorkloadEndpoint is one endpoint of a ServiceEntry.
type WorkloadEndpoint struct {
	Address string            `json:"address,omitempty"`
	Ports   map[string]uint32 `json:"ports,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Weight  uint32            `json:"weight,omitempty"`
}

// Gateway is networking.istio.io Gateway.
type Gateway struct {
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []Server          `json:"servers"`
}

// Server is one listening port of a Gateway.
type Server struct {
	Port  GatewayPort `json:"port"`
	Bind  string      `json:"bind,omitempty"`
	Hosts []string    `json:"hosts"`
	Name  string      `json:"name,omitempty"`
}

// GatewayPort is the port a Gateway server listens on.
type GatewayPort struct {
	Number   uint32 `json:"number"`
	Protocol string `json:"protocol"`
	Name     string `json:"name,omitempty"`
}

// Settings is the optional signalbox.yaml at the policy root.
type Settings struct {
	// SidecarListener is the outbound listener address of sidecar proxies, "host:port".
	SidecarListener string `json:"sidecarListener,omitempty"`
}

// DefaultSidecarListener is where sidecars listen unless signalbox.yaml says otherwise.
const DefaultSidecarListener = "127.0.0.1:15001"
