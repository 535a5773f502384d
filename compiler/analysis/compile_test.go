package analysis_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

// Compiling a test tree reports each of its mistakes once, with its code: the compiler is not
// run when analysis already found errors, and a tree without analysis errors compiles.
func TestCompileReportsOnce(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.txtar")
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var files []schema.File
			for _, f := range ar.Files {
				if f.Name != "want" {
					files = append(files, schema.File{Path: f.Name, Data: f.Data})
				}
			}
			snap, findings := compiler.CompileFiles(files)
			if !schema.HasErrors(findings) {
				if snap == nil {
					t.Fatal("no errors and no snapshot")
				}
				return
			}
			for _, f := range findings {
				if f.Severity == schema.SeverityError && f.Code == "" {
					t.Errorf("uncoded error next to analysis errors: %s", f)
				}
			}
		})
	}
}
