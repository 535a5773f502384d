// Package xds owns the last step of compilation: small pure constructors that turn one IR value
// into one Envoy v3 proto each, validated (typed configs before they are packed into Any,
// because ValidateAll does not descend into Any) and packed deterministically. It makes no
// policy decision: everything it needs is already in the IR.
package xds
