package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/policies"
)

// The same tree compiled from the working directory and from a git revision gives the same
// snapshot file, byte for byte, and the same version; so does compiling it twice.
func TestCompileWorkingTreeAndRevisionAreIdentical(t *testing.T) {
	dir := t.TempDir()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CopyFS(policies.FS, "policies"); err != nil {
		t.Fatal(err)
	}
	sha, err := repo.Commit("policies: default tree")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	compile := func(name string, args ...string) (string, []byte) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		file := filepath.Join(out, name)
		if code := run(append([]string{"compile", "-o", file}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("compile %v: exit %d: %s", args, code, stderr.String())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(stdout.String()), data
	}
	v1, fromDir := compile("dir.snap", filepath.Join(dir, "policies"))
	v2, again := compile("again.snap", filepath.Join(dir, "policies"))
	v3, fromGit := compile("git.snap", "--repo", dir, "--ref", sha)
	v4, fromHead := compile("head.snap", "--repo", dir)
	if v1 != v2 || v1 != v3 || v1 != v4 {
		t.Fatalf("versions differ: dir %s, again %s, git %s, HEAD %s", v1, v2, v3, v4)
	}
	if !bytes.Equal(fromDir, again) || !bytes.Equal(fromDir, fromGit) || !bytes.Equal(fromDir, fromHead) {
		t.Fatal("snapshot files differ between the working tree, a second run and the git revision")
	}
}
