//go:build unix

package source

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// A named pipe with a policy file's name is refused, not read (reading it would block).
func TestReadDirRefusesNamedPipe(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.yaml": "a: 1\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	files, err := ReadDir(dir)
	var refused *RefusedError
	if !errors.As(err, &refused) || len(files) != 1 || len(refused.Refusals) != 1 ||
		refused.Refusals[0] != (Refusal{"pipe.yaml", "not a regular file; it is not read"}) {
		t.Errorf("files %q, err %v", paths(files), err)
	}
}
