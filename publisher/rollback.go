package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// FetchHistory reads GET /history from a publisher's admin address.
func FetchHistory(ctx context.Context, adminAddr string) ([]HistoryEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(adminAddr)+"/history", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET /history: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var h []HistoryEntry
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("GET /history: %w", err)
	}
	return h, nil
}

// ReadHistory reads the history a publisher kept in a state directory, newest first.
func ReadHistory(stateDir string) ([]HistoryEntry, error) {
	if _, err := os.Stat(filepath.Join(stateDir, indexFile)); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	st, err := openStore(stateDir)
	if err != nil {
		return nil, err
	}
	h, err := st.load()
	if err != nil {
		return nil, err
	}
	return h.newestFirst(), nil
}

// PublishedBy finds the commit that published version (the newest publish of it), in a
// history listed newest first.
func PublishedBy(hist []HistoryEntry, version string) (string, error) {
	for _, e := range hist {
		if e.Version == version && e.Commit != "" {
			return e.Commit, nil
		}
	}
	return "", fmt.Errorf("version %s is not in the publish history", version)
}

// RollbackPlan lists the commits on branch after commit (first parents, newest first): the
// ones `git revert` must undo to bring back what commit published.
func RollbackPlan(repoPath, branch, commit string) ([]string, error) {
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repoPath, err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	var after []string
	c, err := repo.CommitObject(ref.Hash())
	for err == nil {
		if c.Hash.String() == commit {
			return after, nil
		}
		after = append(after, c.Hash.String())
		if c.NumParents() == 0 {
			break
		}
		c, err = c.Parent(0)
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("commit %s is not on branch %s (history rewritten?)", commit, branch)
}

// RevertCommand is the git command that restores commit's state over the plan's commits.
func RevertCommand(plan []string, version string) string {
	if len(plan) == 0 {
		return ""
	}
	return fmt.Sprintf("git revert --no-commit %s && git commit -m %q", strings.Join(plan, " "), "Revert to "+version)
}

// CommitRollback makes one commit on the checked-out branch of the local clone at repoPath
// that restores the policy directory dir to its tree at commit ("Revert to VERSION"), and
// returns the new commit. Files outside dir are left alone.
func CommitRollback(repoPath, dir, commit, version string, author object.Signature) (string, error) {
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("open repository %s: %w", repoPath, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	head, err := repo.Head()
	if err != nil {
		return "", err
	}
	want, err := dirFiles(repo, plumbing.NewHash(commit), dir)
	if err != nil {
		return "", err
	}
	have, err := dirFiles(repo, head.Hash(), dir)
	if err != nil {
		return "", err
	}
	fsys := wt.Filesystem
	for name := range have {
		if _, ok := want[name]; !ok {
			if _, err := wt.Remove(name); err != nil {
				return "", err
			}
		}
	}
	for name, data := range want {
		if err := fsys.MkdirAll(path.Dir(name), 0o755); err != nil {
			return "", err
		}
		f, err := fsys.Create(name)
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
		if _, err := wt.Add(name); err != nil {
			return "", err
		}
	}
	if author.When.IsZero() {
		author.When = time.Now()
	}
	msg := fmt.Sprintf("Revert to %s\n\nRestores %s as of %s.\n", version, dir, commit)
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &author, AllowEmptyCommits: false})
	if errors.Is(err, git.ErrEmptyCommit) {
		return "", fmt.Errorf("%s already matches %s: nothing to revert", dir, commit)
	}
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// dirFiles reads every file under dir in a commit's tree, by repository path.
func dirFiles(repo *git.Repository, commit plumbing.Hash, dir string) (map[string][]byte, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	prefix := strings.Trim(path.Clean(dir), "/")
	if prefix != "." && prefix != "" {
		if tree, err = tree.Tree(prefix); errors.Is(err, object.ErrDirectoryNotFound) {
			return map[string][]byte{}, nil
		} else if err != nil {
			return nil, err
		}
	} else {
		prefix = ""
	}
	out := map[string][]byte{}
	err = tree.Files().ForEach(func(f *object.File) error {
		s, err := f.Contents()
		if err != nil {
			return err
		}
		out[path.Join(prefix, f.Name)] = []byte(s)
		return nil
	})
	return out, err
}
