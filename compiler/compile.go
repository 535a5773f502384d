package compiler

import "github.com/signalbox/signalbox/schema"

// Compile turns a validated tree into a sealed Snapshot. Findings of error severity mean no
// snapshot (nil): an invalid tree is never published.
func Compile(tree *schema.Tree) (*Snapshot, []schema.Finding) {
	s := &Snapshot{}
	if err := s.seal(); err != nil {
		return nil, []schema.Finding{{Severity: schema.SeverityError, Message: err.Error()}}
	}
	return s, nil
}

// CompileFiles loads, validates and compiles a policy tree in one step.
func CompileFiles(files []schema.File) (*Snapshot, []schema.Finding) {
	tree, findings := schema.Load(files)
	if schema.HasErrors(findings) {
		return nil, findings
	}
	snap, more := Compile(tree)
	return snap, append(findings, more...)
}
