package main

import "github.com/signalbox/signalbox/schema"

// loadTree validates the files; with ignoreUnknown, documents that are not Istio kinds (a
// Kubernetes Deployment next to the policies) are skipped rather than reported.
func loadTree(files []schema.File, ignoreUnknown bool) (*schema.Tree, []schema.Finding) {
	return schema.LoadWithOptions(files, schema.Options{IgnoreUnknown: ignoreUnknown})
}

// ignoreUnknownUsage is the flag's help wherever a tree is loaded.
const ignoreUnknownUsage = "skip YAML documents that are not Istio kinds (and, with a warning, Istio kinds signalbox does not compile) instead of reporting them; ignoreUnknown: true in signalbox.yaml does it for every command"
