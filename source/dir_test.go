package source

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/signalbox/signalbox/schema"
)

// writeTree writes files (slash-separated paths) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A file over the limit is refused by name, at its place in the tree; the rest is still read.
func TestReadDirRefusesLargeFile(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": "a: 1\n", "sub/b.yaml": "b: 1\n"})
	if err := os.WriteFile(filepath.Join(dir, "sub", "big.yaml"), make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadDir(dir)
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("err = %v, want a *RefusedError", err)
	}
	if want := []string{"a.yaml", "sub/b.yaml"}; !reflect.DeepEqual(paths(files), want) {
		t.Errorf("files = %q, want %q", paths(files), want)
	}
	want := []schema.Finding{{
		Pos:      schema.Pos{File: "sub/big.yaml", Line: 1, Col: 1},
		Severity: schema.SeverityError,
		Message:  "file is 8388609 bytes, over the limit of 8388608 (8 MiB); it is not read",
	}}
	if got := refused.Findings(); !reflect.DeepEqual(got, want) {
		t.Errorf("findings = %+v, want %+v", got, want)
	}
	if got, want := err.Error(), "sub/big.yaml: file is 8388609 bytes, over the limit of 8388608 (8 MiB); it is not read"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}
