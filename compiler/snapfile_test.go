package compiler_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// Every golden tree's snapshot survives the file form: same version, same bytes, and every
// packed config (fault, CORS, TLS, retry predicates…) still resolves to its type.
func TestSnapshotFileRoundTrip(t *testing.T) {
	cases, _ := filepath.Glob("../testdata/compiler/*/in")
	for _, dir := range cases {
		files, err := source.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		tree, findings := schema.Load(files)
		if schema.HasErrors(findings) {
			continue
		}
		snap, _ := compiler.Compile(tree)
		if snap == nil {
			continue // a case of findings
		}
		data, err := snap.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := compiler.Unmarshal(data)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		again, err := back.Marshal()
		if err != nil || back.Version != snap.Version || !bytes.Equal(again, data) {
			t.Fatalf("%s: read back as %s (%v), want %s and the same bytes", dir, back.Version, err, snap.Version)
		}
		for _, r := range back.Roles {
			for _, typ := range compiler.ResourceTypes {
				for _, res := range r.Resources[typ] {
					if _, err := protojson.Marshal(res); err != nil {
						t.Fatalf("%s: role %s: %v", dir, r.Name, err)
					}
				}
			}
		}
	}
}

// A snapshot file written before scoped routes were a resource type (by `signalbox compile` at
// the commit before f3c50fd, from testdata/compiler/canary/in) is read with its own version, so
// a publisher's state dir from then still serves and lists it after an upgrade; and written
// back unchanged.
func TestSnapshotFileBeforeScopedRoutes(t *testing.T) {
	path := "../testdata/snapshots/canary-before-scopes.snap"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := compiler.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version != "ce3c50d6e086" {
		t.Errorf("version %s, want the file's ce3c50d6e086", snap.Version)
	}
	sidecar := snap.Role(compiler.SidecarRole)
	if sidecar == nil || len(sidecar.Resources[resource.RouteType]) != 1 || len(sidecar.Resources[resource.ScopedRouteType]) != 0 {
		t.Fatalf("sidecar role %+v: want its one route table and no scopes", sidecar)
	}
	if _, ok := sidecar.Versions[resource.ScopedRouteType]; ok {
		t.Errorf("a version for scopes, which the file does not have")
	}
	again, err := snap.Marshal()
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("written back (%v): not the same bytes", err)
	}

	// Edited by hand, it is still refused.
	tampered := bytes.Replace(data, []byte(`"name": "sidecar"`), []byte(`"name": "sidecars"`), 1)
	if _, err := compiler.Unmarshal(tampered); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a role renamed: %v, want it refused as corrupt", err)
	}
	scopes := bytes.Replace(data, []byte(`"type.googleapis.com/envoy.config.listener.v3.Listener"`), []byte(`"type.googleapis.com/envoy.config.route.v3.Unknown"`), 1)
	if _, err := compiler.Unmarshal(scopes); err == nil || !strings.Contains(err.Error(), "not one this signalbox serves") {
		t.Errorf("an unknown type: %v, want it refused by name", err)
	}
}

// FuzzSnapshotFile: `serve --snapshot` and `diff` read snapshot files users hand them. Any
// bytes give a snapshot or an error, never a panic; a file accepted is written back as one
// that reads to the same version.
func FuzzSnapshotFile(f *testing.F) {
	if data, err := os.ReadFile("../testdata/snapshots/canary-before-scopes.snap"); err == nil {
		f.Add(data)
	}
	// A snapshot whose clusters carry locality policies, for Localized below: the golden
	// locality tree compiled (signalbox compile testdata/compiler/locality/in -o …).
	if data, err := os.ReadFile("../testdata/snapshots/locality.snap"); err == nil {
		f.Add(data)
	}
	// One whose routes carry source conditions (signalbox compile testdata/compiler/source/in).
	if data, err := os.ReadFile("../testdata/snapshots/source.snap"); err == nil {
		f.Add(data)
	}
	// Ones whose listeners carry Sidecar scopes and whose clusters have variants per namespace
	// (signalbox compile testdata/compiler/sidecarscope/in, …/ruleexport/in).
	for _, name := range []string{"sidecarscope", "ruleexport"} {
		if data, err := os.ReadFile("../testdata/snapshots/" + name + ".snap"); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"format":"signalbox.snapshot/v1","version":"","roles":[]}`))
	f.Add([]byte(`{"format":"signalbox.snapshot/v1","roles":[{"name":"sidecar","versions":{},"resources":{"x":["AA=="]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := compiler.Unmarshal(data)
		if err != nil {
			return
		}
		again, err := snap.Marshal()
		if err != nil {
			t.Fatalf("accepted, then not written: %v", err)
		}
		back, err := compiler.Unmarshal(again)
		if err != nil || back.Version != snap.Version {
			t.Fatalf("written back, read as %v (%v), want %s", back, err, snap.Version)
		}
		// The publisher localises every role it serves from such a file (endpoints for the
		// place, routes for the labels and namespace): a policy or condition it cannot read is
		// an error, never a panic.
		for _, r := range snap.Roles {
			for _, place := range []compiler.Place{{}, {Locality: "us-east/zone-a/rack-1", Labels: map[string]string{"topology.istio.io/network": "east"}},
				{Labels: map[string]string{"app": "productpage", "version": "v2"}, Namespace: "test"},
				{Labels: map[string]string{"app": "legacy"}, Namespace: "team-a"}, {Namespace: "team-b"}, {Namespace: "istio-system"}} {
				if lr, err := snap.Localized(r, place); err == nil && lr.Name != r.Name {
					t.Fatalf("role %s localised as %s", r.Name, lr.Name)
				}
			}
		}
	})
}
