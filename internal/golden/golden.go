// Package golden owns the project's one golden-file switch: tests compare what a stage produced
// with a file under testdata, and `SIGNALBOX_UPDATE_GOLDEN=1 go test ./...` (make golden)
// rewrites every golden file from the current output instead.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Updating reports whether this run rewrites golden files.
func Updating() bool { return os.Getenv("SIGNALBOX_UPDATE_GOLDEN") == "1" }

// Check compares got with the golden file at path (or rewrites it when updating).
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with SIGNALBOX_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (SIGNALBOX_UPDATE_GOLDEN=1 rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
