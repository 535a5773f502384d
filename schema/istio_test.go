package schema

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The files under testdata/istio are copied unchanged from Istio (Apache License 2.0); see
// testdata/istio/NOTICE.md.

// TestIstioBookinfo loads each Bookinfo policy file on its own. What loads and what is refused
// is recorded in testdata/istio/bookinfo.golden (rewritten by -update): the files use a few
// fields signalbox does not support yet, and those must be named, never dropped.
func TestIstioBookinfo(t *testing.T) {
	paths, _ := filepath.Glob("testdata/istio/bookinfo/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no Bookinfo files")
	}
	var got strings.Builder
	for _, p := range paths {
		tree, findings := Load([]File{readFile(t, p, filepath.Base(p))})
		for _, d := range tree.Documents {
			got.WriteString("loads " + d.Kind + " " + d.Namespace + "/" + d.Name + " from " + d.Pos.String() + "\n")
		}
		for _, f := range findings {
			got.WriteString(f.String() + "\n")
		}
	}
	golden := "testdata/istio/bookinfo.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("got:\n%s\nwant:\n%s", got.String(), want)
	}
}

// TestIstioValidation holds signalbox to Istio's own validation corpus: every document Istio
// rejects is rejected, and every document Istio accepts loads, unless it uses something signalbox
// does not support yet and is refused for that reason alone.
func TestIstioValidation(t *testing.T) {
	paths, _ := filepath.Glob("testdata/istio/validation/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no validation files")
	}
	n := 0
	defer func() {
		if n < 20 {
			t.Errorf("only %d documents in the corpus", n)
		}
	}()
	for _, p := range paths {
		valid := strings.HasSuffix(p, "-valid.yaml")
		for i, doc := range istioDocuments(t, p) {
			n++
			name := filepath.Base(p)
			tree, findings := Load([]File{{Path: name, Data: []byte(doc)}})
			switch {
			case valid && len(findings) == 0 && len(tree.Documents) == 1:
			case valid:
				for _, f := range findings {
					if !strings.Contains(f.Message, "not supported yet") {
						t.Errorf("%s document %d: Istio accepts it, signalbox says: %s", name, i, f)
					}
				}
			case len(findings) == 0:
				t.Errorf("%s document %d: Istio rejects it, signalbox accepts it:\n%s", name, i, doc)
			}
		}
	}
}

var istioErrLine = regexp.MustCompile(`(?m)^_err:.*\n`)

// istioDocuments splits a corpus file into documents, without Istio's _err expectations.
// Documents that are entirely commented out carry no verdict and are skipped.
func istioDocuments(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.Contains(d, "\nkind:") || strings.HasPrefix(d, "kind:") {
			docs = append(docs, istioErrLine.ReplaceAllString(d, ""))
		}
	}
	return docs
}

func readFile(t testing.TB, path, name string) File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return File{Path: name, Data: data}
}
