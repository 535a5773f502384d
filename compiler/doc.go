// Package compiler owns the translation of a validated policy tree into what proxies run: it
// builds the IR (package compiler/ir) from the typed policies, turns the IR into Envoy xDS v3
// resources per proxy role (package compiler/xds), and seals them in an immutable Snapshot whose
// version is a digest of its canonical bytes. It knows nothing of gRPC or git.
package compiler
