package source

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/signalbox/signalbox/internal/gitrepo"
	"github.com/signalbox/signalbox/schema"
)

// testRepo is a real repository on disk with a worktree, committed to by a real author.
type testRepo struct {
	t    *testing.T
	repo *git.Repository
	*gitrepo.Repo
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	r, err := gitrepo.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, repo: r.Repository(), Repo: r}
}

// commit writes files (a nil value deletes the file) and commits them, returning the sha.
func (r *testRepo) commit(msg string, files map[string][]byte) string {
	r.t.Helper()
	sha, err := r.CommitFiles(msg, files)
	if err != nil {
		r.t.Fatal(err)
	}
	return sha
}

func paths(files []schema.File) []string {
	var ps []string
	for _, f := range files {
		ps = append(ps, f.Path)
	}
	return ps
}

func TestReadRevisionSelectsPolicyFiles(t *testing.T) {
	r := newTestRepo(t)
	first := r.commit("first policies", map[string][]byte{
		"policies/reviews.yaml":         []byte("kind: VirtualService\n"),
		"policies/ns/b/ratings.yml":     []byte("kind: DestinationRule\n"),
		"policies/ns/a/gateway.cue":     []byte("kind: \"Gateway\"\n"),
		"policies/README.md":            []byte("not policy\n"),
		"policies/.github/workflow.yml": []byte("hidden dir\n"),
		"outside.yaml":                  []byte("outside the policy dir\n"),
	})
	second := r.commit("add settings", map[string][]byte{
		"policies/signalbox.yaml": []byte("sidecarListener: 127.0.0.1:15001\n"),
	})

	commit, files, err := ReadRevision(r.repo, "main", "policies")
	if err != nil {
		t.Fatal(err)
	}
	if commit != second {
		t.Errorf("main resolved to %s, want %s", commit, second)
	}
	want := []string{"ns/a/gateway.cue", "ns/b/ratings.yml", "reviews.yaml", "signalbox.yaml"}
	if got := paths(files); !reflect.DeepEqual(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if string(files[2].Data) != "kind: VirtualService\n" {
		t.Errorf("reviews.yaml data = %q", files[2].Data)
	}

	for _, rev := range []string{"HEAD~1", "main~1", first, first[:8]} {
		commit, files, err := ReadRevision(r.repo, rev, "./policies/")
		if err != nil {
			t.Fatalf("%s: %v", rev, err)
		}
		if commit != first || len(files) != 3 {
			t.Errorf("%s: commit %s with %q, want %s with 3 files", rev, commit, paths(files), first)
		}
	}
}

func TestReadRevisionTagAndRoot(t *testing.T) {
	r := newTestRepo(t)
	sha := r.commit("root policies", map[string][]byte{"a.yaml": []byte("a: 1\n"), "sub/b.yaml": []byte("b: 1\n")})
	if _, err := r.repo.CreateTag("v1", plumbing.NewHash(sha), &git.CreateTagOptions{
		Tagger: &object.Signature{Name: "Ada Operator", Email: "ada@example.com", When: time.Unix(1700000000, 0)}, Message: "v1",
	}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{".", ""} {
		commit, files, err := ReadRevision(r.repo, "v1", dir)
		if err != nil {
			t.Fatal(err)
		}
		if commit != sha || !reflect.DeepEqual(paths(files), []string{"a.yaml", "sub/b.yaml"}) {
			t.Errorf("dir %q: %s %q", dir, commit, paths(files))
		}
	}
}

func TestReadCommitMatchesReadDir(t *testing.T) {
	r := newTestRepo(t)
	r.commit("tree", map[string][]byte{
		"policies/x.yaml":         []byte("x\n"),
		"policies/d/y.yml":        []byte("y\n"),
		"policies/.hidden/z.yaml": []byte("z\n"),
		"policies/notes.txt":      []byte("n\n"),
	})
	_, fromGit, err := ReadRevision(r.repo, "HEAD", "policies")
	if err != nil {
		t.Fatal(err)
	}
	fromDisk, err := ReadDir(filepath.Join(r.Dir, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromGit, fromDisk) {
		t.Errorf("git %q != dir %q", paths(fromGit), paths(fromDisk))
	}
}

func TestReadCommitErrors(t *testing.T) {
	r := newTestRepo(t)
	r.commit("files", map[string][]byte{"policies/a.yaml": []byte("a\n"), "file.yaml": []byte("f\n")})

	var noDir *NoDirectoryError
	if _, _, err := ReadRevision(r.repo, "main", "missing"); !errors.As(err, &noDir) || !strings.Contains(err.Error(), "missing: no such directory") {
		t.Errorf("missing dir: %v", err)
	}
	if _, _, err := ReadRevision(r.repo, "main", "file.yaml"); !errors.As(err, &noDir) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as dir: %v", err)
	}
	// Revisions that do not exist say what is wrong.
	for rev, want := range map[string]string{
		"nope":   `resolve "nope": no branch, tag or commit of that name`,
		"HEAD~1": `resolve "HEAD~1": no such commit: the history has no such parent (a first commit has none)`,
		"main^2": `resolve "main^2": no such commit: the history has no such parent (a first commit has none)`,
	} {
		if _, _, err := ReadRevision(r.repo, rev, "policies"); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", rev, err, want)
		}
	}

	// A file over the limit is refused by name; the commit and the other files are still read.
	big := r.commit("too big", map[string][]byte{"policies/sub/big.yaml": make([]byte, MaxFileSize+1)})
	commit, files, err := ReadRevision(r.repo, "main", "policies")
	var refused *RefusedError
	if !errors.As(err, &refused) || len(refused.Refusals) != 1 || refused.Refusals[0].Path != "sub/big.yaml" ||
		!strings.Contains(err.Error(), "sub/big.yaml: file is 8388609 bytes, over the limit of 8388608") {
		t.Fatalf("oversized file: %v", err)
	}
	if commit != big || !reflect.DeepEqual(paths(files), []string{"a.yaml"}) {
		t.Errorf("oversized file: commit %s with %q, want %s with a.yaml", commit, paths(files), big)
	}
}

func TestOpenRepo(t *testing.T) {
	r := newTestRepo(t)
	sha := r.commit("one", map[string][]byte{"policies/a.yaml": []byte("a\n")})

	// From a subdirectory of the worktree, as `signalbox validate --repo .` run inside it does.
	repo, err := OpenRepo(filepath.Join(r.Dir, "policies"), GitAuth{})
	if err != nil {
		t.Fatal(err)
	}
	if commit, _, err := ReadRevision(repo, "HEAD", "policies"); err != nil || commit != sha {
		t.Errorf("HEAD = %s, %v; want %s", commit, err, sha)
	}
	if _, err := OpenRepo(t.TempDir(), GitAuth{}); err == nil {
		t.Error("OpenRepo of a directory outside any repository succeeded")
	}
}

func TestIsRemote(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/org/policies.git": true,
		"ssh://git@example.com/org/policies":   true,
		"file:///srv/policies.git":             true,
		"git@example.com:org/policies.git":     true,
		".":                                    false,
		"../policies":                          false,
		"/srv/repos/a@b:c":                     false,
		"C:/repos/policies":                    false,
	} {
		if got := IsRemote(s); got != want {
			t.Errorf("IsRemote(%q) = %v, want %v", s, got, want)
		}
	}
}
