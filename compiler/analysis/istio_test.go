package analysis_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/schema"
)

// Istio's own sample configurations, loaded as one tree: analysis never panics on real-world
// documents, and every finding it makes carries a code, a severity and a position.
func TestIstioSamples(t *testing.T) {
	paths, _ := filepath.Glob("../../schema/testdata/istio/config/*.yaml")
	if len(paths) == 0 {
		t.Skip("no Istio samples")
	}
	var files []schema.File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, schema.File{Path: filepath.Base(p), Data: data})
	}
	tree, _ := schema.LoadWithOptions(files, schema.Options{IgnoreUnknown: true})
	if len(tree.Documents) < 50 {
		t.Fatalf("only %d documents loaded", len(tree.Documents))
	}
	byCode := map[string]int{}
	for _, f := range analysis.Run(tree) {
		if _, ok := analysis.RuleFor(f.Code); !ok || f.Pos.Line == 0 || f.Kind == "" {
			t.Errorf("finding without a code, position or resource: %s", f)
		}
		byCode[f.Code]++
	}
	t.Logf("%d documents, findings by code: %v", len(tree.Documents), byCode)
}
