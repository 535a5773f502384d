package schema

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expectations at the end of testdata/errors files")

// TestFindings loads each file of testdata/errors on its own, as a policy tree of one file,
// and compares what happens with the expectations written at the end of the file:
//
//	# want: FINDING      one line per finding, in order, as Finding.String prints it
//	# loads: KIND NAMESPACE/NAME   one line per document that loads, in tree order
//
// (CUE files write "// want:" and "// loads:"). Run with -update to rewrite them.
func TestFindings(t *testing.T) {
	paths, err := filepath.Glob("testdata/errors/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			comment := "# "
			if strings.HasSuffix(name, ".cue") {
				comment = "// "
			}
			body, want := splitExpectations(data, comment)
			tree, findings := Load([]File{{Path: name, Data: body}})
			var got []string
			for _, f := range findings {
				got = append(got, comment+"want: "+f.String())
			}
			for _, d := range tree.Documents {
				got = append(got, fmt.Sprintf("%sloads: %s %s/%s", comment, d.Kind, d.Namespace, d.Name))
			}
			if *update {
				out := append(bytes.TrimRight(body, "\n"), '\n')
				out = append(out, '\n')
				out = append(out, strings.Join(got, "\n")+"\n"...)
				if err := os.WriteFile(p, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// splitExpectations separates the expectation lines at the end of a test file from its body.
func splitExpectations(data []byte, comment string) (body []byte, want []string) {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	end := len(lines)
	for end > 0 && (strings.HasPrefix(lines[end-1], comment+"want: ") || strings.HasPrefix(lines[end-1], comment+"loads: ")) {
		end--
	}
	want = lines[end:]
	return []byte(strings.Join(lines[:end], "\n") + "\n"), want
}
