package source

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// A symbolic link is never followed, whatever its name and wherever it points (a file, a
// directory, itself, out of the tree): each is refused by name, with its target, and the
// checkout and its git tree read as the same files and the same refusals.
func TestSymlinksAreRefusedOnDiskAndInGit(t *testing.T) {
	r := newTestRepo(t)
	for p, data := range map[string]string{
		"policies/a.yaml":     "a: 1\n",
		"policies/sub/b.yaml": "b: 1\n",
		"shared/c.yaml":       "c: 1\n",
	} {
		if err := r.WriteFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"policies/link.yaml":   "a.yaml",
		"policies/shared.yaml": "../shared/c.yaml",
		"policies/shareddir":   "../shared",
		"policies/sub/up":      "..",
		"policies/self.yaml":   "self.yaml",
	}
	for p, target := range links {
		if err := os.Symlink(target, filepath.Join(r.Dir, filepath.FromSlash(p))); err != nil {
			t.Skipf("symbolic links: %v", err)
		}
	}
	r.commit("links", nil)

	fromDisk, diskErr := ReadDir(filepath.Join(r.Dir, "policies"))
	_, fromGit, gitErr := ReadRevision(r.repo, "HEAD", "policies")
	want := []string{"a.yaml", "sub/b.yaml"}
	const why = `: links are not followed, as one can lead out of the policy tree; put a copy of its target here, or remove it`
	const outside = ` (outside the policy directory)`
	wantRefused := []Refusal{
		{"link.yaml", `a symbolic link to "a.yaml"` + why},
		{"self.yaml", `a symbolic link to "self.yaml"` + why},
		{"shared.yaml", `a symbolic link to "../shared/c.yaml"` + outside + why},
		{"shareddir", `a symbolic link to "../shared"` + outside + why},
		{"sub/up", `a symbolic link to ".."` + why},
	}
	for name, c := range map[string]struct {
		files []schema.File
		err   error
	}{"disk": {fromDisk, diskErr}, "git": {fromGit, gitErr}} {
		var refused *RefusedError
		if !errors.As(c.err, &refused) {
			t.Errorf("%s: err = %v, want a *RefusedError", name, c.err)
			continue
		}
		if !reflect.DeepEqual(paths(c.files), want) {
			t.Errorf("%s: files = %q, want %q", name, paths(c.files), want)
		}
		if !reflect.DeepEqual(refused.Refusals, wantRefused) {
			t.Errorf("%s: refused\n%q\nwant\n%q", name, refused.Refusals, wantRefused)
		}
	}
}

// A link to an absolute path is outside the policy directory. (Not in git: go-git's worktree
// rewrites such a target relative to the work tree when it commits it.)
func TestReadDirRefusesAbsoluteLink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "abs.yml")); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
	files, err := ReadDir(dir)
	var refused *RefusedError
	if !errors.As(err, &refused) || len(files) != 0 || len(refused.Refusals) != 1 ||
		!strings.HasPrefix(refused.Refusals[0].Reason, `a symbolic link to "/etc/passwd" (outside the policy directory): `) {
		t.Errorf("files %q, err %v", paths(files), err)
	}
}

// The directory named by the caller may itself be a link: it is followed.
func TestReadDirFollowsItsOwnLink(t *testing.T) {
	dir := writeTree(t, map[string]string{"real/a.yaml": "a: 1\n"})
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Skipf("symbolic links: %v", err)
	}
	files, err := ReadDir(link)
	if err != nil || !reflect.DeepEqual(paths(files), []string{"a.yaml"}) {
		t.Errorf("ReadDir(link) = %q, %v; want a.yaml", paths(files), err)
	}
}
