package main

import "github.com/signalbox/signalbox/schema"

// loadTree validates the files; with ignoreUnknown, documents that are not Istio kinds (a
// Kubernetes Deployment next to the policies) are skipped rather than reported.
func loadTree(files []schema.File, ignoreUnknown bool) (*schema.Tree, []schema.Finding) {
	return schema.LoadWithOptions(files, schema.Options{IgnoreUnknown: ignoreUnknown})
}
