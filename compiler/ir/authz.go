package ir

// Authorization is what a gateway listener enforces of the AuthorizationPolicies that apply to
// its role, as Istio translates them: Envoy's RBAC filter once with every DENY policy, then once
// with every ALLOW policy, both before the other filters. A request is refused when a DENY policy
// matches it, or when ALLOW policies apply and none matches it. On a TCP listener the filters are
// network RBAC filters judging each connection, and the policies hold only conditions a
// connection has (no header, path or token condition): Allow may then have no policies, which
// refuses every connection.
type Authorization struct {
	Deny  *RBAC `json:"deny,omitempty"`
	Allow *RBAC `json:"allow,omitempty"`
}

// RBAC is the policies of one RBAC filter, sorted by name ("ns[NS]-policy[NAME]-rule[I]", one
// per rule of an AuthorizationPolicy). A request matches the filter when it matches any policy.
type RBAC struct {
	Policies []*RBACPolicy `json:"policies,omitempty"`
}

// RBACPolicy matches a request when any of its permissions and any of its principals hold.
// MatchNever is Istio's policy for an ALLOW AuthorizationPolicy without rules: it matches no
// request, so such a policy allows nothing.
type RBACPolicy struct {
	Name        string     `json:"name"`
	Permissions []RBACRule `json:"permissions,omitempty"` // one per rule's `to` (or one for all)
	Principals  []RBACRule `json:"principals,omitempty"`  // one per rule's `from` (or one for all)
	MatchNever  bool       `json:"matchNever,omitempty"`
}

// RBACRule holds when every condition holds; without conditions it always holds (Envoy's any).
type RBACRule struct {
	Conditions []RBACCondition `json:"conditions,omitempty"`
}

// RBAC attributes a condition tests. On a permission: a request header (Host as ":authority",
// the method as ":method"), the path, the destination port, address and SNI. On a principal: a
// request header, the peer's address (DirectRemoteIP), the client's address (RemoteIP: the
// first x-forwarded-for hop the proxy trusts, else the peer) and the claims of the request's
// verified token (JWT: each value's Claims).
const (
	RBACHeader          = "header"
	RBACPath            = "path"
	RBACDestinationPort = "destinationPort"
	RBACDestinationIP   = "destinationIp"
	RBACServerName      = "serverName"
	RBACDirectRemoteIP  = "directRemoteIp"
	RBACRemoteIP        = "remoteIp"
	RBACJWT             = "jwt"
	// RBACPeerPrincipal is the identity in the peer's client certificate (its URI SAN, e.g.
	// spiffe://cluster.local/ns/NS/sa/SA), Envoy's authenticated principal_name.
	RBACPeerPrincipal = "peerPrincipal"
)

// RBACCondition is one attribute of a request: it holds when one of Values matches (or Values is
// empty) and none of NotValues does (Envoy's or_rules, and not_rule over or_rules).
type RBACCondition struct {
	Attribute string      `json:"attribute"`
	Header    string      `json:"header,omitempty"` // with RBACHeader
	Values    []RBACValue `json:"values,omitempty"`
	NotValues []RBACValue `json:"notValues,omitempty"`
}

// RBAC string match kinds besides MatchExact, MatchPrefix, MatchRegex and MatchPresent.
const MatchSuffix = "suffix"

// RBACValue is one value of a condition: a string match (header, path, server name), an address
// range (the IP attributes), a port, or claims of a verified token that must all match (JWT).
type RBACValue struct {
	Kind       string      `json:"kind,omitempty"` // a string match kind
	Value      string      `json:"value,omitempty"`
	IgnoreCase bool        `json:"ignoreCase,omitempty"`
	Address    string      `json:"address,omitempty"`
	PrefixLen  uint32      `json:"prefixLen,omitempty"`
	Port       uint32      `json:"port,omitempty"`
	Claims     []RBACClaim `json:"claims,omitempty"`
}

// RBACClaim matches one claim of a token the jwt_authn filter verified, in the payload the filter
// stored in its dynamic metadata under the provider's issuer (JWTProvider): Kind and Value are a
// string match of the claim (MatchPresent: the claim is there), List a match of one element of
// a list claim.
type RBACClaim struct {
	Issuer string   `json:"issuer"`
	Path   []string `json:"path"` // the claim's name, then nested names (claims[a][b])
	Kind   string   `json:"kind"`
	Value  string   `json:"value,omitempty"`
	List   bool     `json:"list,omitempty"`
}
