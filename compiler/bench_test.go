package compiler_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

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

// BenchmarkLocalized measures localising a role for one new proxy place (what the publisher
// does once per place and publish): every service has an endpoint in three localities and
// outlier detection, so every cluster's endpoints are reprioritised.
func BenchmarkLocalized(b *testing.B) {
	for _, n := range []int{100, 1000} {
		var src strings.Builder
		for i := range n {
			fmt.Fprintf(&src, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-%[1]d}
spec:
  hosts: [svc-%[1]d.mesh]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.1.%[2]d.%[3]d, locality: us-east/zone-a}
  - {address: 10.2.%[2]d.%[3]d, locality: us-east/zone-b}
  - {address: 10.3.%[2]d.%[3]d, locality: us-west/zone-a}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-%[1]d}
spec:
  host: svc-%[1]d.mesh
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3}
---
`, i, i/250, i%250+1)
		}
		snap, findings := compiler.CompileFiles([]schema.File{{Path: "mesh.yaml", Data: []byte(src.String())}})
		if snap == nil {
			b.Fatal(findings)
		}
		role := snap.Role(compiler.SidecarRole)
		i := 0 // across -count runs too: a place seen before is served from the cache
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				i++
				// A new sub-zone each time: never served from the snapshot's cache.
				lr, err := snap.Localized(role, compiler.Place{Locality: fmt.Sprintf("us-east/zone-a/rack-%d", i)})
				if err != nil || lr == role {
					b.Fatalf("not localised: %v", err)
				}
			}
		})
	}
}

// BenchmarkSourceRoutes is what serving a proxy its routes costs when every service has a
// VirtualService with a rule for some proxies (sourceLabels): choosing the routes for a new
// label set, paid once per label set and publish.
func BenchmarkSourceRoutes(b *testing.B) {
	for _, n := range []int{100, 1000} {
		var src strings.Builder
		for i := range n {
			fmt.Fprintf(&src, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-%[1]d}
spec:
  hosts: [svc-%[1]d.mesh]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.1.%[2]d.%[3]d, labels: {version: v1}}
  - {address: 10.2.%[2]d.%[3]d, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-%[1]d}
spec:
  host: svc-%[1]d.mesh
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-%[1]d}
spec:
  hosts: [svc-%[1]d.mesh]
  http:
  - match: [{sourceLabels: {app: caller-%[1]d}}]
    route: [{destination: {host: svc-%[1]d.mesh, subset: v2}}]
  - route: [{destination: {host: svc-%[1]d.mesh, subset: v1}}]
---
`, i, i/250, i%250+1)
		}
		snap, findings := compiler.CompileFiles([]schema.File{{Path: "mesh.yaml", Data: []byte(src.String())}})
		if snap == nil {
			b.Fatal(findings)
		}
		role := snap.Role(compiler.SidecarRole)
		i := 0 // across -count runs too: a caller seen before is served from the cache
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				i++
				// Another caller each time (the label every condition tests): never cached.
				lr, err := snap.Localized(role, compiler.Place{Labels: map[string]string{"app": fmt.Sprintf("caller-%d", i)}, Namespace: "default"})
				if err != nil || lr == role {
					b.Fatalf("routes not chosen: %v", err)
				}
			}
		})
	}
}

// BenchmarkClusterView is what serving a proxy only the clusters of the services it sees
// costs: services spread over ten namespaces, those of even namespaces exported to their own
// only, and ns-1's Sidecar admitting its own namespace and ns-2. new-view is the first proxy of
// a view after a publish (the role's conditions already read, as the publisher reads them when
// it publishes): choosing its clusters, endpoints and routes; same-view is a proxy of a new
// namespace that sees what others already see, whose clusters are shared with theirs.
func BenchmarkClusterView(b *testing.B) {
	for _, n := range []int{100, 1000} {
		var src strings.Builder
		for i := range n {
			ns := i % 10
			exportTo := ""
			if ns%2 == 0 {
				exportTo = `exportTo: ["."]`
			}
			fmt.Fprintf(&src, `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-%[1]d, namespace: ns-%[4]d}
spec:
  hosts: [svc-%[1]d.ns-%[4]d.svc.cluster.local]
  %[5]s
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.1.%[2]d.%[3]d}]
---
`, i, i/250, i%250+1, ns, exportTo)
		}
		src.WriteString(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns-1}
spec:
  egress:
  - hosts: ["./*", "ns-2/*"]
`)
		tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(src.String())}})
		if schema.HasErrors(findings) {
			b.Fatal(findings)
		}
		mesh, findings := compiler.BuildIR(tree)
		if schema.HasErrors(findings) {
			b.Fatal(findings)
		}
		served := 0
		b.Run(fmt.Sprintf("services=%d/new-view", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				snap, err := compiler.FromIR(mesh)
				if err != nil {
					b.Fatal(err)
				}
				role := snap.Role(compiler.SidecarRole)
				if _, err := snap.Localized(role, compiler.Place{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				lr, err := snap.Localized(role, compiler.Place{Namespace: "ns-1"})
				if err != nil {
					b.Fatal(err)
				}
				served = len(lr.Resources[resource.ClusterType])
			}
			b.ReportMetric(float64(served), "clusters/place")
		})
		snap, err := compiler.FromIR(mesh)
		if err != nil {
			b.Fatal(err)
		}
		role := snap.Role(compiler.SidecarRole)
		i := 0
		b.Run(fmt.Sprintf("services=%d/same-view", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				i++
				lr, err := snap.Localized(role, compiler.Place{Namespace: fmt.Sprintf("other-%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				served = len(lr.Resources[resource.ClusterType])
			}
			b.ReportMetric(float64(served), "clusters/place")
		})
	}
}
