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
	// JWKS is the key set, inline (signalbox fetches no keys: jwksUri is refused).
	JWKS string `json:"jwks"`
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

// JWTHeader is a header holding a token, with the prefix before it ("Bearer ").
type JWTHeader struct {
	Name   string `json:"name"`
	Prefix string `json:"prefix,omitempty"`
}
