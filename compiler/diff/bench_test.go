package diff_test

import (
	"io"
	"testing"

	"github.com/signalbox/signalbox/compiler/diff"
	"github.com/signalbox/signalbox/internal/gen"
)

// BenchmarkDiff10k compares two compiled 10,000-service trees whose every service moved its
// canary weight (10,000 weight changes), and renders the report as text and Markdown. The two
// compilations are outside the timer: `signalbox diff` on revisions adds them.
//
//	go test -run '^$' -bench Diff10k -benchtime 3x ./compiler/diff/
func BenchmarkDiff10k(b *testing.B) {
	base := compileFiles(b, gen.Tree(10000, 10))
	head := compileFiles(b, gen.Tree(10000, 20))
	b.ResetTimer()
	for b.Loop() {
		r, err := diff.Compare(base, head)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Changes) != 10000 {
			b.Fatalf("%d changes", len(r.Changes))
		}
		_ = r.WriteText(io.Discard)
		_ = r.WriteMarkdown(io.Discard)
	}
}
