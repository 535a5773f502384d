package gitrepo

import (
	"io"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func fileAt(t *testing.T, r *Repo, sha, path string) (string, bool) {
	t.Helper()
	c, err := r.Repository().CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File(path)
	if err != nil {
		return "", false
	}
	rd, err := f.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	b, _ := io.ReadAll(rd)
	return string(b), true
}

// A revert restores changed files, brings back removed ones and removes added ones, so the
// tree after it equals the tree before the reverted commit.
func TestRevertRestoresTheParentTree(t *testing.T) {
	r, err := Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, err := r.CommitFiles("base", map[string][]byte{"p/a.yaml": []byte("a1\n"), "p/b.yaml": []byte("b1\n")})
	if err != nil {
		t.Fatal(err)
	}
	change, err := r.CommitFiles("change", map[string][]byte{"p/a.yaml": []byte("a2\n"), "p/b.yaml": nil, "p/c.yaml": []byte("c\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fileAt(t, r, change, "p/b.yaml"); ok {
		t.Fatal("a removed file is still in the commit")
	}
	rev, err := r.Revert(change)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"p/a.yaml": "a1\n", "p/b.yaml": "b1\n"} {
		if got, ok := fileAt(t, r, rev, path); !ok || got != want {
			t.Errorf("%s after revert = %q (present %v), want %q", path, got, ok, want)
		}
	}
	if _, ok := fileAt(t, r, rev, "p/c.yaml"); ok {
		t.Error("a file the reverted commit added is still there")
	}
	baseCommit, _ := r.Repository().CommitObject(plumbing.NewHash(base))
	revCommit, _ := r.Repository().CommitObject(plumbing.NewHash(rev))
	if baseCommit.TreeHash != revCommit.TreeHash {
		t.Errorf("tree after revert %s, want the base tree %s", revCommit.TreeHash, baseCommit.TreeHash)
	}
}
