package analysis_test

import (
	"fmt"
	"testing"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/schema"
)

// BenchmarkValidate measures validate's two levels on generated trees of about 1,000 and
// 10,000 documents (three per service plus the gateway's): schema alone, schema plus analysis,
// and analysis alone (its share). Analysis must stay linear: its ns/doc is flat across sizes.
// Every iteration loads the files under new paths, so that schema's per-file cache misses as
// it does in a fresh CI run.
//
//	go test -run '^$' -bench Validate -benchtime 3x ./compiler/analysis/
func BenchmarkValidate(b *testing.B) {
	for _, docs := range []int{1000, 10000} {
		files := gen.Tree(docs/3, 10)
		tree, findings := schema.Load(files)
		if schema.HasErrors(findings) {
			b.Fatal(findings)
		}
		n := len(tree.Documents)
		iter := 0
		b.Run(fmt.Sprintf("docs=%d/schema-only", n), func(b *testing.B) {
			for b.Loop() {
				iter++
				schema.Load(moved(files, iter))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
		})
		b.Run(fmt.Sprintf("docs=%d/with-analysis", n), func(b *testing.B) {
			for b.Loop() {
				iter++
				t, _ := schema.Load(moved(files, iter))
				if fs := analysis.Run(t); len(fs) != 0 {
					b.Fatal(fs)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
		})
		b.Run(fmt.Sprintf("docs=%d/analysis-only", n), func(b *testing.B) {
			for b.Loop() {
				analysis.Run(tree)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
		})
	}
}

// moved returns the files under a directory named after iter (signalbox.yaml stays at the
// root, where settings live).
func moved(files []schema.File, iter int) []schema.File {
	out := make([]schema.File, len(files))
	for i, f := range files {
		if f.Path != "signalbox.yaml" {
			f.Path = fmt.Sprintf("run%d/%s", iter, f.Path)
		}
		out[i] = f
	}
	return out
}
