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
		b.Run(fmt.Sprintf("docs=%d/schema-only", n), func(b *testing.B) {
			for b.Loop() {
				schema.Load(files)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
		})
		b.Run(fmt.Sprintf("docs=%d/with-analysis", n), func(b *testing.B) {
			for b.Loop() {
				t, _ := schema.Load(files)
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
