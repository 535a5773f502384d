package ir

// Authentication is what a gateway listener verifies of request tokens (JWTs) for the
// RequestAuthentications that reach its role, as Istio translates them: Envoy's jwt_authn filter
// ahead of the RBAC filters, one provider per jwtRule. A request without a token passes (an
// AuthorizationPolicy decides about those); one whose token fails verification is refused (401).
type Authentication struct {
	// Providers sorted by issuer (then by the policy's namespace and name and the rule's index),
	// named "origins-<index>" in that order as Istio names them.
	Providers []*JWTProvider `json:"providers,omitempty"`
}

// JWTProvider is one jwtRule: which tokens it accepts, where it finds them and what it passes on.
// The filter stores the payload of a token it verified in its dynamic metadata under Issuer,
// where the RBAC filters read the claims (RBACClaim).
type JWTProvider struct {
	Name      string   `json:"name"`
	Issuer    string   `json:"issuer"`
	Audiences []string `json:"audiences,omitempty"`
	// JWKS is the key set, inline; empty when RemoteJWKS is set.
	JWKS string `json:"jwks,omitempty"`
	// RemoteJWKS, when set, has the proxy fetch the key set itself (jwksUri): signalbox fetches
	// nothing at compile time, so keys rotated at the identity provider need no new commit.
	RemoteJWKS *RemoteJWKS `json:"remoteJwks,omitempty"`
	// FromHeaders and FromParams say where the token is; both empty: Envoy's default, the
	// Authorization header with the "Bearer " prefix, then the access_token parameter.
	FromHeaders []JWTHeader `json:"fromHeaders,omitempty"`
	FromParams  []string    `json:"fromParams,omitempty"`
	// Forward keeps the token in the request sent upstream (forwardOriginalToken).
	Forward bool `json:"forward,omitempty"`
	// ForwardPayloadHeader names a header that carries the verified payload upstream
	// (base64url-encoded JSON; outputPayloadToHeader).
	ForwardPayloadHeader string `json:"forwardPayloadHeader,omitempty"`
}

// RemoteJWKS is where the proxy fetches a provider's key set, as Istio has Envoy fetch it
// (remote_jwks): an HTTP GET of URI sent through Cluster, the outbound cluster of the URI's host
// and port (which originates TLS for an https URI), given up after Timeout; the keys fetched are
// used for CacheDuration before they are fetched again.
type RemoteJWKS struct {
	URI           string   `json:"uri"`
	Cluster       string   `json:"cluster"`
	Timeout       Duration `json:"timeout"`
	CacheDuration Duration `json:"cacheDuration"`
}

// JWTHeader is a header holding a token, with the prefix before it ("Bearer ").
type JWTHeader struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix,omitempty"`
}
