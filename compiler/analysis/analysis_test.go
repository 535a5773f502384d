package analysis_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/internal/golden"
	"github.com/signalbox/signalbox/schema"
)

// Each testdata/*.txtar is a policy tree; its "want" section is the exact analysis output,
// one finding a line as the CLI prints it (SIGNALBOX_UPDATE_GOLDEN=1 rewrites it).
func TestAnalysis(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.txtar")
	if len(paths) == 0 {
		t.Fatal("no test cases")
	}
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var files []schema.File
			want := -1
			for i, f := range ar.Files {
				if f.Name == "want" {
					want = i
					continue
				}
				files = append(files, schema.File{Path: f.Name, Data: f.Data})
			}
			tree, findings := schema.Load(files)
			if schema.HasErrors(findings) {
				t.Fatalf("schema findings: %v", findings)
			}
			var got strings.Builder
			for _, f := range analysis.Run(tree) {
				got.WriteString(f.String() + "\n")
			}
			if want < 0 {
				t.Fatal("no want section")
			}
			if golden.Updating() {
				ar.Files[want].Data = []byte(got.String())
				golden.Check(t, p, txtar.Format(ar))
				return
			}
			if got.String() != string(ar.Files[want].Data) {
				t.Errorf("analysis of %s:\ngot:\n%s\nwant:\n%s", p, got.String(), ar.Files[want].Data)
			}
		})
	}
}

// A clean tree has no findings, and every rule has a code, a name and a summary.
func TestRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range analysis.Rules() {
		if r.Code == "" || r.Name == "" || r.Summary == "" || seen[r.Code] {
			t.Errorf("bad rule %+v", r)
		}
		seen[r.Code] = true
		if _, ok := analysis.RuleFor(r.Code); !ok {
			t.Errorf("RuleFor(%s) not found", r.Code)
		}
	}
	if len(seen) != 13 {
		t.Errorf("%d rules, want 13", len(seen))
	}
}
