// Package schema owns the policy language: it decodes the YAML (and CUE) documents of a policy
// tree, validates each against the CUE schemas embedded from schemas/ and Istio's per-resource
// rules, and yields typed policies that remember where every field came from, so that every
// later stage can report a mistake as FILE:LINE:COL. It knows nothing of xDS.
//
// Load and LoadWithOptions are the entry points. The schemas in schemas/*.cue declare every
// field of Istio's networking and security kinds: what each field can hold on its own (type,
// range, enumeration, pattern, required). The rules across fields (one-of groups, delegation,
// TLS modes, authorization conditions, minimum durations) and the ones CUE cannot state well
// (RE2 syntax, IP addresses, uniqueness within a list) are Go checks in checks_*.go, reported
// the same way. The schema accepts every document Istio accepts; which fields the compiler
// handles is the compiler's business.
//
// Validation is fast because of that split (fastpath.go): a document whose values each satisfy
// their field's constraint is valid, and only a document with a problem is evaluated by CUE
// whole, to name the problem. Files are validated in parallel and their results cached by
// content (cache.go); the documents of a tree are shared and must not be modified.
package schema
