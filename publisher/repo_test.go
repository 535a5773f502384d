package publisher

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/policies"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// gitRepo is a real repository on disk with a worktree and branch main.
type gitRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &gitRepo{t: t, dir: dir, repo: repo}
}

// commit writes files (path -> content; a nil content removes the file) and commits them.
func (r *gitRepo) commit(msg string, files map[string][]byte) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, data := range files {
		if data == nil {
			if _, err := wt.Remove(name); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:            &object.Signature{Name: "Ada Operator", Email: "ada@example.com", When: time.Now()},
		AllowEmptyCommits: true,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// forcePush moves main to sha, as a force push to the repository does.
func (r *gitRepo) forcePush(sha string) {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName("main"), plumbing.NewHash(sha))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatal(err)
	}
}

// defaultPolicies is the project's default tree, under policies/.
func defaultPolicies(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(policies.FS, p)
		files["policies/"+p] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// compiledVersion is what the compiler makes of the policy tree at a commit: the version the
// publisher must serve for it.
func compiledVersion(t *testing.T, r *gitRepo, sha string) (string, []schema.Finding) {
	t.Helper()
	_, files, err := source.ReadRevision(r.repo, sha, "policies")
	if err != nil {
		t.Fatal(err)
	}
	s, findings := compiler.CompileFiles(files)
	if s == nil {
		return "", findings
	}
	return s.Version, findings
}
