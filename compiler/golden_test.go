package compiler_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
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
// a tree with errors has findings.txt instead. A tree with in/places.txt also keeps each role's
// endpoints localised for those proxy places (checkPlaces).
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
					checkResources(t, dir, fileName(role.Name), typ, role)
				}
			}
			golden.Check(t, filepath.Join(dir, "out", "version.txt"), []byte(snap.Version+"\n"))
			checkPlaces(t, dir, snap)
		})
	}
}

// checkPlaces is the localisation stage: for each proxy place in in/places.txt ("LOCALITY
// k=v… [namespace:NS]" a line, "-" for no locality), every role's endpoints as a proxy there
// is served them, in ROLE@PLACE.endpoints.yaml (for a place with a locality, or where they
// change: the clusters of a DestinationRule chosen by namespace), and its clusters and routes
// where they change (inline DNS endpoints; routes for some proxies only; cluster variants). PLACE is the locality, or the rest
// of the line without one.
func checkPlaces(t *testing.T, dir string, snap *compiler.Snapshot) {
	data, err := os.ReadFile(filepath.Join(dir, "in", "places.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		place := compiler.Place{Locality: strings.TrimPrefix(fields[0], "-"), Labels: map[string]string{}}
		for _, kv := range fields[1:] {
			if ns, ok := strings.CutPrefix(kv, "namespace:"); ok {
				place.Namespace = ns
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			place.Labels[k] = v
		}
		placeName := place.Locality
		if placeName == "" {
			placeName = strings.Join(fields[1:], "+")
		}
		for _, role := range snap.Roles {
			lr, err := snap.Localized(role, place)
			if err != nil {
				t.Fatal(err)
			}
			name := fileName(role.Name + "@" + placeName)
			if place.Locality != "" || lr.Versions[resource.EndpointType] != role.Versions[resource.EndpointType] {
				checkResources(t, dir, name, resource.EndpointType, lr)
			}
			for _, typ := range []resource.Type{resource.ClusterType, resource.RouteType} {
				if lr.Versions[typ] != role.Versions[typ] {
					checkResources(t, dir, name, typ, lr)
				}
			}
		}
	}
}

func fileName(s string) string {
	return strings.NewReplacer("/", "_", "=", "-", ",", "_", ":", "_").Replace(s)
}

// checkResources compares one type of a role's resources, as YAML, with out/NAME.TYPE.yaml.
func checkResources(t *testing.T, dir, name string, typ resource.Type, role *compiler.Role) {
	t.Helper()
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
	golden.Check(t, filepath.Join(dir, "out", name+"."+typeFile(typ)+".yaml"), []byte(strings.Join(docs, "---\n")))
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
