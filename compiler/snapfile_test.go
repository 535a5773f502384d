package compiler_test

import (
	"bytes"
	"path/filepath"
	"testing"

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
