// Command gen writes a synthetic policy tree to disk: go run ./internal/gen/cmd -n 1000 -o DIR.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/signalbox/signalbox/internal/gen"
)

func main() {
	n := flag.Int("n", 100, "number of services")
	canary := flag.Int("canary", 10, "weight of subset v2 on every default route")
	out := flag.String("o", "", "directory to write the tree into")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen: -o DIR is required")
		os.Exit(2)
	}
	for _, f := range gen.Tree(*n, *canary) {
		p := filepath.Join(*out, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
