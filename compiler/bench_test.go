package compiler_test

import (
	"fmt"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/schema"
)

// BenchmarkCompile measures load+validate+compile of a whole tree, and compile alone.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		files := gen.Tree(n, 10)
		b.Run(fmt.Sprintf("services=%d/files", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if snap, fs := compiler.CompileFiles(files); snap == nil {
					b.Fatal(fs)
				}
			}
		})
		tree, findings := schema.Load(files)
		if schema.HasErrors(findings) {
			b.Fatal(findings)
		}
		b.Run(fmt.Sprintf("services=%d/compile-only", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if snap, fs := compiler.Compile(tree); snap == nil {
					b.Fatal(fs)
				}
			}
		})
	}
}
