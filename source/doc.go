// Package source owns reading a policy tree: the *.yaml, *.yml and *.cue files (and
// signalbox.yaml) under a directory on disk or under a directory of a git revision, returned as
// schema.File values with slash-separated paths relative to the policy root, in sorted order.
package source
