// Package signalbox is a GitOps traffic-policy compiler.
//
// Traffic policies written in Istio's API live in a git repository. Each commit flows one way
// through the pipeline, one package per stage:
//
//	source     reads the policy files of a directory or of a git revision
//	schema     decodes YAML, validates it with CUE, yields typed policies with positions
//	compiler   policies -> IR (compiler/ir) -> Envoy xDS v3 (compiler/xds) -> versioned snapshot
//	publisher  follows a git branch, serves snapshots over ADS, tracks ACKs and NACKs
//	proxy      an xDS client that routes real HTTP traffic (imports no compiler code)
//
// The CLI in cmd/signalbox is a thin layer of flags and output over these packages.
package signalbox
