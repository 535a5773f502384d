// Package schema owns the policy language: it decodes the YAML (and CUE) documents of a policy
// tree, validates each against the CUE schemas embedded from schemas/, and yields typed policies
// that remember where every field came from, so that every later stage can report a mistake as
// FILE:LINE:COL. It knows nothing of xDS.
//
// Load is the entry point. The schemas in schemas/*.cue are the reference for what a document
// may hold; a few rules CUE cannot state well (RE2 syntax, uniqueness within a list, IP
// addresses) are Go checks in checks.go, reported the same way. Every field Istio defines but
// signalbox does not compile yet is refused by name ("not supported yet"), never dropped.
package schema
