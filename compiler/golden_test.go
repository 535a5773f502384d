package compiler_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/internal/golden"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// Each directory of testdata/compiler holds a policy tree in in/ and what every stage makes of
// it in out/: ir.yaml, then ROLE.{listeners,scopes,routes,clusters,endpoints}.yaml and version.txt;
// a tree with errors has findings.txt instead.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("../testdata/compiler/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, err := source.ReadDir(filepath.Join(dir, "in"))
			if err != nil {
				t.Fatal(err)
			}
			tree, findings := schema.Load(files)
			if !schema.HasErrors(findings) {
				mesh, more := compiler.BuildIR(tree)
				findings = append(findings, more...)
				golden.Check(t, filepath.Join(dir, "out", "ir.yaml"), toYAML(t, mesh))
			}
			if schema.HasErrors(findings) {
				golden.Check(t, filepath.Join(dir, "out", "findings.txt"), []byte(findingLines(findings)))
				return
			}
			snap, findings := compiler.Compile(tree)
			if snap == nil {
				t.Fatalf("no snapshot: %v", findings)
			}
			for _, role := range snap.Roles {
				for _, typ := range compiler.ResourceTypes {
					if typ == resource.ScopedRouteType && len(role.Resources[typ]) == 0 {
						continue // only a scoped listener has scopes: no empty file per role
					}
					var docs []string
					for _, res := range role.Resources[typ] {
						js, err := protojson.Marshal(res)
						if err != nil {
							t.Fatal(err)
						}
						y, err := yaml.JSONToYAML(js)
						if err != nil {
							t.Fatal(err)
						}
						docs = append(docs, string(y))
					}
					name := strings.NewReplacer("/", "_", "=", "-", ",", "_").Replace(role.Name) + "." + typeFile(typ) + ".yaml"
					golden.Check(t, filepath.Join(dir, "out", name), []byte(strings.Join(docs, "---\n")))
				}
			}
			golden.Check(t, filepath.Join(dir, "out", "version.txt"), []byte(snap.Version+"\n"))
		})
	}
}

func typeFile(t resource.Type) string {
	switch t {
	case resource.ListenerType:
		return "listeners"
	case resource.RouteType:
		return "routes"
	case resource.ScopedRouteType:
		return "scopes"
	case resource.ClusterType:
		return "clusters"
	default:
		return "endpoints"
	}
}

func toYAML(t *testing.T, v any) []byte {
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func findingLines(fs []schema.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}
