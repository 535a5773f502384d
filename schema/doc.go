// Package schema owns the policy language: it decodes the YAML (and CUE) documents of a policy
// tree, validates each against the CUE schemas embedded from schemas/, and yields typed policies
// that remember where every field came from, so that every later stage can report a mistake as
// FILE:LINE:COL. It knows nothing of xDS.
package schema
