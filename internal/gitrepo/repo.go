package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a real git repository on disk with a work tree.
type Repo struct {
	Dir  string
	repo *git.Repository
	wt   *git.Worktree
	when time.Time
}

// Init makes a repository in dir whose branch is main.
func Init(dir string) (*Repo, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return nil, err
	}
	wt, err := r.Worktree()
	if err != nil {
		return nil, err
	}
	// Commit times advance one second per commit from a fixed start, so runs are repeatable.
	return &Repo{Dir: dir, repo: r, wt: wt, when: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// CopyFS writes every file of fsys under dir/prefix.
func (r *Repo) CopyFS(fsys fs.FS, prefix string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return r.WriteFile(filepath.ToSlash(filepath.Join(prefix, p)), data)
	})
}

// WriteFile writes one file of the work tree (path slash-separated, relative to the repo).
func (r *Repo) WriteFile(path string, data []byte) error {
	full := filepath.Join(r.Dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	return os.WriteFile(full, data, 0o644)
}

// Repository is the go-git repository, for reading it back.
func (r *Repo) Repository() *git.Repository { return r.repo }

// RemoveFile deletes one file of the work tree; the next Commit records the deletion.
func (r *Repo) RemoveFile(path string) error {
	return os.Remove(filepath.Join(r.Dir, filepath.FromSlash(path)))
}

// CommitFiles writes files (a nil value removes the file) and commits them.
func (r *Repo) CommitFiles(message string, files map[string][]byte) (string, error) {
	for p, data := range files {
		var err error
		if data == nil {
			err = r.RemoveFile(p)
		} else {
			err = r.WriteFile(p, data)
		}
		if err != nil {
			return "", err
		}
	}
	return r.Commit(message)
}

// Commit stages everything and commits it; it returns the commit hash.
func (r *Repo) Commit(message string) (string, error) {
	if err := r.wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", err
	}
	r.when = r.when.Add(time.Second)
	h, err := r.wt.Commit(message, &git.CommitOptions{
		Author:            &object.Signature{Name: "Policy Author", Email: "author@example.com", When: r.when},
		AllowEmptyCommits: false,
	})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// Revert makes a commit that undoes the commit sha: every file it changed is restored to its
// parent's content (files it added are removed), as `git revert` does for a commit whose
// changes no later commit touched.
func (r *Repo) Revert(sha string) (string, error) {
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", err
	}
	parent, err := c.Parent(0)
	if err != nil {
		return "", fmt.Errorf("revert %s: %w", sha[:7], err)
	}
	from, err := parent.Tree()
	if err != nil {
		return "", err
	}
	to, err := c.Tree()
	if err != nil {
		return "", err
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return "", err
	}
	for _, ch := range changes {
		name := ch.From.Name
		if name == "" {
			if err := os.Remove(filepath.Join(r.Dir, filepath.FromSlash(ch.To.Name))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			continue
		}
		f, err := from.File(name)
		if err != nil {
			return "", err
		}
		rd, err := f.Reader()
		if err != nil {
			return "", err
		}
		data, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return "", err
		}
		if err := r.WriteFile(name, data); err != nil {
			return "", err
		}
	}
	return r.Commit(fmt.Sprintf("Revert %q\n\nThis reverts commit %s.", firstLine(c.Message), sha))
}

func firstLine(s string) string {
	for i, ch := range s {
		if ch == '\n' {
			return s[:i]
		}
	}
	return s
}
