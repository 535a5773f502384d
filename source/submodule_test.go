package source

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// A submodule in the policy directory is refused by name, never silently dropped: its files are
// another repository's. The checkout (a directory with a .git of its own) and the commit's
// tree (a submodule entry) read as the same files and the same refusal.
func TestSubmodulesAreRefusedOnDiskAndInGit(t *testing.T) {
	r := newTestRepo(t)
	r.commit("policies", map[string][]byte{
		"policies/a.yaml":            []byte("a: 1\n"),
		"policies/team/b.yaml":       []byte("b: 1\n"),
		"policies/vendored/c.yaml":   []byte("c: 1\n"), // on disk only: the submodule's checkout
		"policies/.hidden/d.yaml":    []byte("d: 1\n"),
		"policies/team/.git-notes":   []byte("not a repository\n"),
		"policies/ordinary/e.yaml":   []byte("e: 1\n"),
		"policies/ordinary/.gitkeep": []byte(""),
	})
	commitSubmodule(t, r, "policies", "vendored")
	if err := os.WriteFile(filepath.Join(r.Dir, "policies", "vendored", ".git"), []byte("gitdir: ../../.git/modules/vendored\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	fromDisk, diskErr := ReadDir(filepath.Join(r.Dir, "policies"))
	_, fromGit, gitErr := ReadRevision(r.repo, "HEAD", "policies")
	want := []string{"a.yaml", "ordinary/e.yaml", "team/b.yaml"}
	wantRefused := []Refusal{{"vendored", "a git submodule: its files belong to another repository and are not read; " +
		"copy the policies into this repository, or move the submodule out of the policy directory"}}
	for name, c := range map[string]struct {
		files []string
		err   error
	}{"disk": {paths(fromDisk), diskErr}, "git": {paths(fromGit), gitErr}} {
		var refused *RefusedError
		if !errors.As(c.err, &refused) {
			t.Errorf("%s: err = %v, want a *RefusedError", name, c.err)
			continue
		}
		if !reflect.DeepEqual(c.files, want) {
			t.Errorf("%s: files = %q, want %q", name, c.files, want)
		}
		if !reflect.DeepEqual(refused.Refusals, wantRefused) {
			t.Errorf("%s: refused %q, want %q", name, refused.Refusals, wantRefused)
		}
	}
}

// commitSubmodule commits HEAD's tree with the directory dir/name replaced by a submodule entry
// (a commit of another repository), as `git submodule add` records it.
func commitSubmodule(t *testing.T, r *testRepo, dir, name string) {
	t.Helper()
	st := r.repo.Storer
	head, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	parent, err := r.repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	root, err := parent.Tree()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := root.Tree(dir)
	if err != nil {
		t.Fatal(err)
	}
	var entries []object.TreeEntry
	for _, e := range sub.Entries {
		if e.Name != name {
			entries = append(entries, e)
		}
	}
	entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Submodule,
		Hash: plumbing.NewHash("0123456789abcdef0123456789abcdef01234567")})
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	write := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := st.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	subHash := write(&object.Tree{Entries: entries})
	var rootEntries []object.TreeEntry
	for _, e := range root.Entries {
		if e.Name == dir {
			e.Hash = subHash
		}
		rootEntries = append(rootEntries, e)
	}
	sig := object.Signature{Name: "signalbox test", Email: "test@signalbox.invalid", When: time.Unix(1700000000, 0)}
	c := write(&object.Commit{Author: sig, Committer: sig, Message: "add submodule " + name,
		TreeHash: write(&object.Tree{Entries: rootEntries}), ParentHashes: []plumbing.Hash{parent.Hash}})
	if err := st.SetReference(plumbing.NewHashReference(head.Name(), c)); err != nil {
		t.Fatal(err)
	}
}
