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
	// ProxyHeaders are Istio's meshConfig.defaultConfig.proxyHeaders: which headers the
	// proxies add. nil: Envoy's and Istio's defaults.
	ProxyHeaders *ProxyHeaders `json:"proxyHeaders,omitempty"`
}

// ProxyHeaders is Istio's ProxyConfig.ProxyHeaders. The compiler honours requestId, server,
// attemptCount and envoyDebugHeaders; the loader refuses the rest where they would change
// anything (checkProxyHeaders).
type ProxyHeaders struct {
	ForwardedClientCert         string          `json:"forwardedClientCert,omitempty"`
	SetCurrentClientCertDetails map[string]bool `json:"setCurrentClientCertDetails,omitempty"`
	RequestID                   *HeaderSwitch   `json:"requestId,omitempty"`
	Server                      *ServerHeader   `json:"server,omitempty"`
	AttemptCount                *HeaderSwitch   `json:"attemptCount,omitempty"`
	EnvoyDebugHeaders           *HeaderSwitch   `json:"envoyDebugHeaders,omitempty"`
	MetadataExchangeHeaders     *struct {
		Mode string `json:"mode,omitempty"`
	} `json:"metadataExchangeHeaders,omitempty"`
	PreserveHTTP1HeaderCase bool          `json:"preserveHttp1HeaderCase,omitempty"`
	XForwardedHost          *HeaderSwitch `json:"xForwardedHost,omitempty"`
	XForwardedPort          *HeaderSwitch `json:"xForwardedPort,omitempty"`
}

// HeaderSwitch turns one header of ProxyHeaders off (disabled) or on (enabled).
type HeaderSwitch struct {
	Disabled bool `json:"disabled,omitempty"`
	Enabled  bool `json:"enabled,omitempty"`
}

// ServerHeader is ProxyHeaders.server: no Server field added (disabled), or another value.
type ServerHeader struct {
	Disabled bool   `json:"disabled,omitempty"`
	Value    string `json:"value,omitempty"`
}

// RequestIDOff and the like read ProxyHeaders safely from a nil pointer: nil is Istio's default.
func (p *ProxyHeaders) RequestIDOff() bool {
	return p != nil && p.RequestID != nil && p.RequestID.Disabled
}

// AttemptCountOff reports attemptCount.disabled.
func (p *ProxyHeaders) AttemptCountOff() bool {
	return p != nil && p.AttemptCount != nil && p.AttemptCount.Disabled
}

// EnvoyDebugHeadersOff reports envoyDebugHeaders.disabled.
func (p *ProxyHeaders) EnvoyDebugHeadersOff() bool {
	return p != nil && p.EnvoyDebugHeaders != nil && p.EnvoyDebugHeaders.Disabled
}

// ServerOff reports server.disabled; ServerValue is server.value ("" when unset).
func (p *ProxyHeaders) ServerOff() bool { return p != nil && p.Server != nil && p.Server.Disabled }

// ServerValue is server.value, "" when unset.
func (p *ProxyHeaders) ServerValue() string {
	if p == nil || p.Server == nil {
		return ""
	}
	return p.Server.Value
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
