package schema

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// BenchmarkLoad loads trees of small documents, 100 to a file: half VirtualServices splitting
// traffic between two subsets, half the DestinationRules defining them. Cold loads start with an
// empty cache; warm ones load the tree again after one file changed.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		files := smallTree(n)
		b.Run(fmt.Sprintf("docs=%d/cold", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				theCache.reset()
				loadAll(b, files, n)
			}
		})
		b.Run(fmt.Sprintf("docs=%d/warm", n), func(b *testing.B) {
			b.ReportAllocs()
			theCache.reset()
			loadAll(b, files, n)
			for i := 0; b.Loop(); i++ {
				changed := slices.Clone(files)
				changed[0].Data = append(slices.Clip(changed[0].Data), fmt.Sprintf("# edit %d\n", i)...)
				loadAll(b, changed, n)
			}
		})
	}
}

func loadAll(b *testing.B, files []File, n int) {
	tree, findings := Load(files)
	if len(findings) > 0 || len(tree.Documents) != n {
		b.Fatalf("%d documents, findings: %v", len(tree.Documents), findings)
	}
}

func smallTree(n int) []File {
	var files []File
	var sb strings.Builder
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(&sb, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-%d
  namespace: team-%d
spec:
  hosts: [svc-%d]
  http:
  - match:
    - uri: {prefix: /api}
      headers: {x-canary: {exact: "yes"}}
    route:
    - destination: {host: svc-%d, subset: v2}
  - route:
    - destination: {host: svc-%d, subset: v1, port: {number: 8080}}
      weight: 90
    - destination: {host: svc-%d, subset: v2, port: {number: 8080}}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: svc-%d
  namespace: team-%d
spec:
  host: svc-%d
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
`, i, i%10, i, i, i, i, i, i%10, i)
		if (i+2)%100 == 0 || i+2 >= n {
			files = append(files, File{Path: fmt.Sprintf("team/%05d.yaml", i), Data: []byte(sb.String())})
			sb.Reset()
		}
	}
	return files
}
