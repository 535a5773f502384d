package schema

// The typed security.istio.io policies, Istio's JSON names, as validated by schemas/*.cue.

// PeerAuthentication is security.istio.io PeerAuthentication: the mTLS mode a workload accepts.
type PeerAuthentication struct {
	Selector *WorkloadSelector `json:"selector,omitempty"`
	MTLS     *PeerMTLS         `json:"mtls,omitempty"`
	// PortLevelMTLS overrides MTLS per workload port number.
	PortLevelMTLS map[uint32]PeerMTLS `json:"portLevelMtls,omitempty"`
}

// PeerMTLS is a mutual-TLS mode: UNSET, DISABLE, PERMISSIVE or STRICT.
type PeerMTLS struct {
	Mode string `json:"mode,omitempty"`
}

// PolicyTargetReference names a Gateway API resource a policy attaches to.
type PolicyTargetReference struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// AuthorizationPolicy is security.istio.io AuthorizationPolicy.
type AuthorizationPolicy struct {
	Selector   *WorkloadSelector       `json:"selector,omitempty"`
	TargetRef  *PolicyTargetReference  `json:"targetRef,omitempty"`
	TargetRefs []PolicyTargetReference `json:"targetRefs,omitempty"`
	Rules      []AuthorizationRule     `json:"rules,omitempty"`
	// Action is ALLOW (the default), DENY, AUDIT or CUSTOM.
	Action string `json:"action,omitempty"`
	// Provider names the external authorizer of a CUSTOM policy.
	Provider *ExtensionProvider `json:"provider,omitempty"`
}

// ExtensionProvider names a mesh-config extension provider.
type ExtensionProvider struct {
	Name string `json:"name,omitempty"`
}

// AuthorizationRule matches when any From, any To and every When hold.
type AuthorizationRule struct {
	From []RuleFrom  `json:"from,omitempty"`
	To   []RuleTo    `json:"to,omitempty"`
	When []Condition `json:"when,omitempty"`
}

// RuleFrom wraps a Source.
type RuleFrom struct {
	Source *Source `json:"source,omitempty"`
}

// RuleTo wraps an Operation.
type RuleTo struct {
	Operation *Operation `json:"operation,omitempty"`
}

// Source is who sends a request; the fields are ANDed, the values of one field ORed.
type Source struct {
	Principals           []string `json:"principals,omitempty"`
	NotPrincipals        []string `json:"notPrincipals,omitempty"`
	RequestPrincipals    []string `json:"requestPrincipals,omitempty"`
	NotRequestPrincipals []string `json:"notRequestPrincipals,omitempty"`
	Namespaces           []string `json:"namespaces,omitempty"`
	NotNamespaces        []string `json:"notNamespaces,omitempty"`
	ServiceAccounts      []string `json:"serviceAccounts,omitempty"`
	NotServiceAccounts   []string `json:"notServiceAccounts,omitempty"`
	IPBlocks             []string `json:"ipBlocks,omitempty"`
	NotIPBlocks          []string `json:"notIpBlocks,omitempty"`
	RemoteIPBlocks       []string `json:"remoteIpBlocks,omitempty"`
	NotRemoteIPBlocks    []string `json:"notRemoteIpBlocks,omitempty"`
	// TrustDomains and NotTrustDomains are deprecated by Istio and still accepted.
	TrustDomains    []string `json:"trustDomains,omitempty"`
	NotTrustDomains []string `json:"notTrustDomains,omitempty"`
}

// Operation is what a request asks for; the fields are ANDed, the values of one field ORed.
type Operation struct {
	Hosts      []string `json:"hosts,omitempty"`
	NotHosts   []string `json:"notHosts,omitempty"`
	Ports      []string `json:"ports,omitempty"`
	NotPorts   []string `json:"notPorts,omitempty"`
	Methods    []string `json:"methods,omitempty"`
	NotMethods []string `json:"notMethods,omitempty"`
	Paths      []string `json:"paths,omitempty"`
	NotPaths   []string `json:"notPaths,omitempty"`
}

// Condition is an extra attribute match (request.headers[...], source.ip, …).
type Condition struct {
	Key       string   `json:"key"`
	Values    []string `json:"values,omitempty"`
	NotValues []string `json:"notValues,omitempty"`
}

// RequestAuthentication is security.istio.io RequestAuthentication: which JWTs a workload accepts.
type RequestAuthentication struct {
	Selector   *WorkloadSelector       `json:"selector,omitempty"`
	TargetRef  *PolicyTargetReference  `json:"targetRef,omitempty"`
	TargetRefs []PolicyTargetReference `json:"targetRefs,omitempty"`
	JWTRules   []JWTRule               `json:"jwtRules,omitempty"`
}

// JWTRule is one accepted token issuer.
type JWTRule struct {
	Issuer                string          `json:"issuer"`
	Audiences             []string        `json:"audiences,omitempty"`
	JWKSURI               string          `json:"jwksUri,omitempty"`
	JWKS                  string          `json:"jwks,omitempty"`
	FromHeaders           []JWTHeader     `json:"fromHeaders,omitempty"`
	FromParams            []string        `json:"fromParams,omitempty"`
	FromCookies           []string        `json:"fromCookies,omitempty"`
	OutputPayloadToHeader string          `json:"outputPayloadToHeader,omitempty"`
	ForwardOriginalToken  bool            `json:"forwardOriginalToken,omitempty"`
	OutputClaimToHeaders  []ClaimToHeader `json:"outputClaimToHeaders,omitempty"`
	Timeout               string          `json:"timeout,omitempty"`
	SpaceDelimitedClaims  []string        `json:"spaceDelimitedClaims,omitempty"`
	// Presence is UNSPECIFIED, REQUIRED or OPTIONAL.
	Presence string `json:"presence,omitempty"`
}

// JWTHeader is a header a token is read from, with the prefix to strip ("Bearer ").
type JWTHeader struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix,omitempty"`
}

// ClaimToHeader copies a claim of a verified token into a request header.
type ClaimToHeader struct {
	Header string `json:"header"`
	Claim  string `json:"claim"`
}
