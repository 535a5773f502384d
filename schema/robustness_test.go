package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// loadOne loads one file and returns its findings as strings.
func loadOne(t testing.TB, name string, data []byte) (*Tree, []string) {
	t.Helper()
	tree, findings := Load([]File{{Path: name, Data: data}})
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	return tree, got
}

func expectFindings(t *testing.T, name string, data []byte, want ...string) {
	t.Helper()
	_, got := loadOne(t, name, data)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBadBytes(t *testing.T) {
	expectFindings(t, "logo.yaml", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"logo.yaml:3:1: error: binary data (a NUL byte), not a YAML text file")
	expectFindings(t, "latin1.yaml", []byte("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: caf\xe9\n"),
		"latin1.yaml:4:12: error: not valid UTF-8 (byte 0xe9); policy files must be UTF-8 text")
	expectFindings(t, "utf16.yaml", []byte("\xff\xfek\x00i\x00n\x00d\x00"),
		"utf16.yaml:1:4: error: binary data (a NUL byte), not a YAML text file")
	expectFindings(t, "policy.cue", []byte("a: \"\xff\"\n"),
		"policy.cue:1:5: error: not valid UTF-8 (byte 0xff); policy files must be UTF-8 text")
}

func TestTextVariants(t *testing.T) {
	dr := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\nspec:\n  host: reviews\n  subsets: [{name: v1, labels: {app.kubernetes.io/version: v1}}]\n"
	for name, data := range map[string]string{
		"bom.yaml":    "\ufeff" + dr,
		"crlf.yaml":   strings.ReplaceAll(dr, "\n", "\r\n"),
		"doc-end.yml": dr + "...\n",
	} {
		tree, got := loadOne(t, name, []byte(data))
		if len(got) > 0 || len(tree.Documents) != 1 {
			t.Errorf("%s: %v", name, got)
			continue
		}
		d := tree.Documents[0]
		if p := d.PosOf("spec.subsets[0].labels.app.kubernetes.io/version"); p.Line != 7 {
			t.Errorf("%s: label position %s", name, p)
		}
		if d.Spec.(*DestinationRule).Subsets[0].Labels["app.kubernetes.io/version"] != "v1" {
			t.Errorf("%s: %+v", name, d.Spec)
		}
	}
}

// TestAliasBomb: a billion laughs expands to far more values than any policy has; it is refused
// at the decoder's limit, quickly.
func TestAliasBomb(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: lol}\nspec:\n  host: lol\n")
	sb.WriteString("  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	prev := "a"
	for _, n := range "bcdefghi" {
		fmt.Fprintf(&sb, "  %c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = string(n)
	}
	start := time.Now()
	expectFindings(t, "bomb.yaml", []byte(sb.String()),
		"bomb.yaml:6:1: error: invalid YAML: aliases expand to more than 50000 nodes")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDeepNesting(t *testing.T) {
	head := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: deep}\nspec:\n  host: deep\n  subsets: "
	deep := head + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	_, got := loadOne(t, "deep.yaml", []byte(deep))
	if len(got) != 1 || !strings.HasPrefix(got[0], "deep.yaml:6:") || !strings.HasSuffix(got[0], ": nested deeper than 64 levels (the limit)") {
		t.Errorf("deep lists: %v", got)
	}
	var sb strings.Builder
	sb.WriteString(head + "\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&sb, "%s    k%d:\n", strings.Repeat("  ", i), i)
	}
	_, got = loadOne(t, "deep-map.yaml", []byte(sb.String()))
	if len(got) != 1 || !strings.HasSuffix(got[0], "nested deeper than 64 levels (the limit)") {
		t.Errorf("deep mappings: %v", got)
	}
	// Nesting far beyond the parser's own limit is a YAML error, not a crash.
	_, got = loadOne(t, "deeper.yaml", []byte(head+strings.Repeat("[", 200000)))
	if len(got) != 1 || !strings.Contains(got[0], "invalid YAML") {
		t.Errorf("deeper lists: %v", got)
	}
}

func TestManyDocuments(t *testing.T) {
	tree, got := loadOne(t, "many.yaml", []byte(strings.Repeat("---\n", MaxDocumentsPerFile+5)))
	want := fmt.Sprintf("many.yaml:%d:1: error: more than %d documents in one file (the limit); split the file", MaxDocumentsPerFile+2, MaxDocumentsPerFile)
	if len(got) != 1 || got[0] != want || len(tree.Documents) != 0 {
		t.Errorf("got %v, want %s", got, want)
	}
}

// TestCorpusNeverPanics loads every test file, and Istio's wider sample set when present, as one
// tree and alone: whatever the input, Load returns findings, never a panic.
func TestCorpusNeverPanics(t *testing.T) {
	for _, p := range corpus(t) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{filepath.Base(p), "policy.yaml", "policy.cue", "signalbox.yaml"} {
			checkInvariants(t, name, data)
		}
	}
}

func corpus(t testing.TB) []string {
	var paths []string
	for _, pattern := range []string{"testdata/errors/*", "testdata/istio/*/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	return paths
}

// checkInvariants loads one file and checks what must hold for any input: every finding is an
// error with a message, in the file loaded, at a line and a column.
func checkInvariants(t testing.TB, name string, data []byte) {
	tree, findings := Load([]File{{Path: name, Data: data}})
	for _, f := range findings {
		if f.Severity != SeverityError || f.Message == "" || f.Pos.File != name || f.Pos.Line < 1 || f.Pos.Col < 1 {
			t.Errorf("%s: malformed finding %#v", name, f)
		}
	}
	for _, d := range tree.Documents {
		ok := false
		switch d.Spec.(type) {
		case *VirtualService:
			ok = d.Kind == KindVirtualService
		case *DestinationRule:
			ok = d.Kind == KindDestinationRule
		case *ServiceEntry:
			ok = d.Kind == KindServiceEntry
		case *Gateway:
			ok = d.Kind == KindGateway
		case *WorkloadEntry:
			ok = d.Kind == KindWorkloadEntry
		case *Sidecar:
			ok = d.Kind == KindSidecar
		case *PeerAuthentication:
			ok = d.Kind == KindPeerAuthentication
		case *AuthorizationPolicy:
			ok = d.Kind == KindAuthorizationPolicy
		case *RequestAuthentication:
			ok = d.Kind == KindRequestAuthentication
		case *KubernetesService:
			ok = d.Kind == KindService && d.Spec.(*KubernetesService).Entry != nil
		}
		if !ok || d.Name == "" || d.Namespace == "" || d.Pos.File != name {
			t.Errorf("%s: malformed document %+v", name, d)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to Load as a YAML file, a CUE file or the settings file.
func FuzzLoad(f *testing.F) {
	for _, p := range corpus(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		kind := uint8(0)
		if strings.HasSuffix(p, ".cue") {
			kind = 1
		}
		f.Add(data, kind)
	}
	f.Add([]byte("sidecarListener: 127.0.0.1:15001\n"), uint8(2))
	names := []string{"policy.yaml", "policy.cue", "signalbox.yaml"}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		checkInvariants(t, names[int(kind)%len(names)], data)
	})
}

// TestMergeKeys: merge keys work; the ones the decoder cannot take are refused before it sees
// them (a mapping merged into itself would recurse without end).
func TestMergeKeys(t *testing.T) {
	expectFindings(t, "self.yaml", []byte("spec: &x\n  host: a\n  subsets:\n  - <<: *x\n"),
		"self.yaml:1:7: error: invalid YAML: anchor 'x' value contains itself")
	expectFindings(t, "list.yaml", []byte("a: &x [{<<: *x}]\n"),
		"list.yaml:1:9: error: invalid YAML: map merge requires map or sequence of maps as the value")
	expectFindings(t, "fine.yaml", []byte("x: &x {a: 1}\ny: {<<: *x, b: 2}\n"),
		"fine.yaml:1:1: error: not a policy document (no kind)")
}

// TestCUEBomb: a few lines of CUE can stand for a tree of millions of values; the document is
// refused at the limit, quickly.
func TestCUEBomb(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("_a0: [1, 1]\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&sb, "_a%d: [_a%d, _a%d]\n", i, i-1, i-1)
	}
	sb.WriteString(`doc: {apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: name: "x", spec: {host: "x", subsets: _a40}}` + "\n")
	start := time.Now()
	expectFindings(t, "bomb.cue", []byte(sb.String()),
		fmt.Sprintf("bomb.cue:42:1: error: the document has more than %d values (the limit)", MaxCUEValues))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}
