package schema

// Settings is the optional signalbox.yaml at the policy root.
type Settings struct {
	// SidecarListener is the outbound listener address of sidecar proxies, "host:port".
	SidecarListener string `json:"sidecarListener,omitempty"`
}

// DefaultSidecarListener is where sidecars listen unless signalbox.yaml says otherwise.
const DefaultSidecarListener = "127.0.0.1:15001"
