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
	// MeshCertificates are the mesh's workload certificate chain, key and root on the proxies'
	// machines, what DestinationRule tls.mode ISTIO_MUTUAL uses in place of Istio's
	// certificate authority; nil: ISTIO_MUTUAL is refused.
	MeshCertificates *MeshCertificates `json:"meshCertificates,omitempty"`
	// TrustDomain is the mesh's trust domain (Istio's meshConfig.trustDomain), in the SPIFFE
	// identities of service accounts; the loader fills in DefaultTrustDomain.
	TrustDomain string `json:"trustDomain,omitempty"`
	// IgnoreUnknown makes every load of the tree skip documents of other kinds, as
	// Options.IgnoreUnknown does.
	IgnoreUnknown bool `json:"ignoreUnknown,omitempty"`
}

// MeshCertificates are absolute paths on the proxies' machines.
type MeshCertificates struct {
	CertificateChain string `json:"certificateChain"`
	PrivateKey       string `json:"privateKey"`
	CACertificates   string `json:"caCertificates"`
}

// DefaultTrustDomain is Istio's default trust domain.
const DefaultTrustDomain = "cluster.local"

// DefaultSidecarListener is where sidecars listen unless signalbox.yaml says otherwise.
const DefaultSidecarListener = "127.0.0.1:15001"
