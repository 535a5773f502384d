// Package policies embeds the default policy tree: a small bookinfo-style mesh (productpage,
// details, reviews in three versions, ratings) behind an ingress gateway. It is what
// `signalbox demo` runs and what `validate` and `compile` read when no directory is given.
package policies

import "embed"

// FS holds signalbox.yaml and every policy file of the default tree.
//
//go:embed *.yaml
var FS embed.FS
