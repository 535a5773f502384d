package schema

// Settings is the optional signalbox.yaml at the policy root.
type Settings struct {
	// SidecarListener is the outbound listener address of sidecar proxies, "host:port".
	SidecarListener string `json:"sidecarListener,omitempty"`
	// CredentialsDir is where gateway proxies find the TLS credentials a Gateway server names
	// with credentialName: NAME/tls.crt, NAME/tls.key and (to verify clients) NAME/ca.crt under
	// it, the layout of a Kubernetes TLS Secret mounted as a volume. Empty: credentialName is
	// refused, since signalbox reads no Kubernetes Secrets itself.
	CredentialsDir string `json:"credentialsDir,omitempty"`
	// LocalityLbSetting is the mesh-wide locality load balancing (Istio's
	// meshConfig.localityLbSetting), for DestinationRules that set none; nil is Istio's
	// default, enabled.
	LocalityLbSetting *LocalityLoadBalancerSetting `json:"localityLbSetting,omitempty"`
}

// DefaultSidecarListener is where sidecars listen unless signalbox.yaml says otherwise.
const DefaultSidecarListener = "127.0.0.1:15001"
