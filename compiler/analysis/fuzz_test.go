package analysis_test

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/schema"
)

// FuzzAnalysis: whatever a policy file holds, a tree that loads is analysed without a panic.
// Seeded from the test trees. go test -run '^$' -fuzz FuzzAnalysis -fuzztime 30s ./compiler/analysis/
func FuzzAnalysis(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.txtar")
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name != "want" {
				f.Add(file.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, _ := schema.Load([]schema.File{{Path: "a.yaml", Data: data}, {Path: "b.yaml", Data: data}})
		if tree != nil {
			analysis.Run(tree)
		}
	})
}
