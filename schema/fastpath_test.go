package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueyaml "cuelang.org/go/encoding/yaml"
)

// TestFastPathAgrees holds the fast path to CUE's full evaluation over every test document: it
// never passes a document CUE refuses, and it does pass the valid documents of Istio's corpus
// and of the benchmark (or the fast path would be slow for nothing).
func TestFastPathAgrees(t *testing.T) {
	v := getValidator()
	defer putValidator(v)
	paths, _ := filepath.Glob("testdata/errors/*.yaml")
	for _, dir := range []string{"bookinfo", "config", "validation"} {
		m, _ := filepath.Glob("testdata/istio/" + dir + "/*.yaml")
		paths = append(paths, m...)
	}
	var datas [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		datas = append(datas, data)
	}
	for _, f := range smallTree(200) {
		datas = append(datas, f.Data)
	}
	fast, full, checked := 0, 0, 0
	for i, data := range datas {
		dec := cueyaml.NewDecoder("doc.yaml", bytes.NewReader(data))
		for {
			x, err := dec.Extract()
			if err != nil {
				break
			}
			st, ok := x.(*ast.StructLit)
			if !ok {
				continue
			}
			h := readHeader(st)
			ks := v.kinds[h.kind]
			if ks == nil {
				continue
			}
			s := newDocState("doc.yaml", &Document{Kind: h.kind})
			s.walk(st, ks.shape, "", 0)
			if len(s.findings) > 0 {
				continue
			}
			checked++
			isFast := v.fastValid(st, ks.shape)
			val := v.ctx.BuildExpr(st)
			isValid := val.Err() == nil && ks.def.Unify(val).Validate(cue.Concrete(true)) == nil
			if isFast {
				fast++
			}
			if isValid {
				full++
			}
			if isFast && !isValid {
				name := "the benchmark tree"
				if i < len(paths) {
					name = paths[i]
				}
				t.Errorf("%s: the fast path passes %s %s, CUE refuses it", name, h.kind, h.name)
			}
		}
	}
	if fast != full {
		t.Errorf("of %d documents, the fast path passed %d and CUE %d", checked, fast, full)
	}
	if checked < 300 {
		t.Errorf("only %d documents checked", checked)
	}
}

// TestStringChecksAgree: every string constraint the fast path checks in Go gives CUE's
// verdict, over values that pass and fail the schema's patterns and enumerations.
func TestStringChecksAgree(t *testing.T) {
	v := getValidator()
	defer putValidator(v)
	samples := []string{"", "a", "A", "reviews", "reviews.default.svc.cluster.local", "*", "*.example.com",
		"foo*", "-", "1.5s", "300ms", "1h30m", "0", "5", "s", "http", "HTTP", "grpc-web", "TCP", "SCTP",
		"GET", "get", "STRICT", "ns/name", "./host", "*/host", "~/host", "bad host", "10.0.0.1", "::1",
		"x_y", "v1", "a.b_c-d", "UPGRADE", "MESH_EXTERNAL", "ISTIO_MUTUAL", "Bearer ", "é", "a\nb"}
	seen := map[*shape]bool{}
	checked := 0
	var walk func(sh *shape)
	walk = func(sh *shape) {
		if sh == nil || seen[sh] {
			return
		}
		seen[sh] = true
		if sh.str != nil {
			for _, s := range samples {
				want := sh.leaf.Unify(v.ctx.Encode(s)).Validate(cue.Concrete(true)) == nil
				if got := sh.str.ok(s); got != want {
					t.Errorf("%v: %q: Go says %v, CUE %v", sh.leaf, s, got, want)
				}
				checked++
			}
		}
		for _, f := range sh.fields {
			walk(f)
		}
		walk(sh.elem)
	}
	for _, ks := range v.kinds {
		walk(ks.shape)
	}
	if checked < 500 {
		t.Errorf("only %d checks", checked)
	}
}
