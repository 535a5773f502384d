package compiler

import "github.com/signalbox/signalbox/schema"

// uncompiledKinds are valid Istio kinds the compiler does not translate yet. A security policy
// that validates but is not enforced would be worse than a refusal: each is an error at its
// kind, so the tree is not published until the policy is removed or the compiler learns it.
// (AuthorizationPolicy and RequestAuthentication are compiled: authz.go, authn.go.)
var uncompiledKinds = []string{
	schema.KindPeerAuthentication,
}

func (b *builder) refuseUncompiledKinds() {
	for _, kind := range uncompiledKinds {
		for _, d := range b.docs(kind) {
			b.errorf(d, "kind", "%s is not supported yet by the compiler: it would not be enforced", kind)
		}
	}
}
