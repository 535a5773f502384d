package compiler_test

import (
	"fmt"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/schema"
)

// BenchmarkCompile measures load+validate+analyse+compile of a whole tree (cold: every file is
// new to schema's per-file cache, as in a CI run; warm: nothing changed since the last load, as
// for the publisher after a commit outside the tree), and compile alone.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		files := gen.Tree(n, 10)
		b.Run(fmt.Sprintf("services=%d/files-cold", n), func(b *testing.B) {
			b.ReportAllocs()
			round := 0
			for b.Loop() {
				b.StopTimer()
				round++
				fresh := renamed(files, round)
				b.StartTimer()
				if snap, fs := compiler.CompileFiles(fresh); snap == nil {
					b.Fatal(fs)
				}
			}
		})
		b.Run(fmt.Sprintf("services=%d/files-warm", n), func(b *testing.B) {
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

// renamed moves every policy file under a directory of its own for this round, so the schema's
// per-file cache (keyed by path and content) has seen none of them.
func renamed(files []schema.File, round int) []schema.File {
	out := make([]schema.File, len(files))
	for i, f := range files {
		if f.Path != "signalbox.yaml" {
			f.Path = fmt.Sprintf("round-%d/%s", round, f.Path)
		}
		out[i] = f
	}
	return out
}
