package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/signalbox/signalbox/schema"
)

// IsRemote reports whether a repository argument names a remote (a URL such as
// https://host/org/repo.git, ssh://…, file://…, or scp-like git@host:org/repo) rather than a
// local path.
func IsRemote(pathOrURL string) bool {
	if strings.Contains(pathOrURL, "://") {
		return true
	}
	// scp-like syntax: user@host:path, with no slash before the colon.
	at := strings.Index(pathOrURL, "@")
	colon := strings.Index(pathOrURL, ":")
	slash := strings.Index(pathOrURL, "/")
	return at > 0 && colon > at && (slash < 0 || slash > colon)
}

// OpenRepo opens the repository at a local path (the path may be anywhere inside its worktree)
// or, for a URL, clones it into memory without a worktree, signing in with auth. No git binary
// is used for a local path.
func OpenRepo(pathOrURL string, auth GitAuth) (*git.Repository, error) {
	if IsRemote(pathOrURL) {
		method, err := auth.Method(pathOrURL)
		if err != nil {
			return nil, err
		}
		repo, err := git.CloneContext(context.Background(), memory.NewStorage(), nil, &git.CloneOptions{
			URL:        pathOrURL,
			Auth:       method,
			NoCheckout: true,
			Tags:       git.AllTags,
		})
		if err != nil {
			return nil, fmt.Errorf("clone %s: %w", RedactURL(pathOrURL), err)
		}
		return repo, nil
	}
	repo, err := git.PlainOpenWithOptions(pathOrURL, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", pathOrURL, err)
	}
	return repo, nil
}

// ReadRevision resolves rev (a branch, tag, full or short sha, HEAD~1, origin/main…) and reads
// the policy files under dir of that commit. It returns the full commit sha; with a
// *RefusedError (see ReadCommit), the sha and the files read too.
func ReadRevision(repo *git.Repository, rev, dir string) (string, []schema.File, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		return "", nil, fmt.Errorf("resolve %q: no branch, tag or commit of that name", rev)
	case errors.Is(err, io.EOF):
		// go-git's word for a parent (~N, ^N) that the history does not have.
		return "", nil, fmt.Errorf("resolve %q: no such commit: the history has no such parent (a first commit has none)", rev)
	case err != nil:
		return "", nil, fmt.Errorf("resolve %q: %w", rev, err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		// An annotated tag resolves to the tag object; peel it to its commit.
		tag, terr := repo.TagObject(*h)
		if terr != nil {
			return "", nil, fmt.Errorf("%q is not a commit: %w", rev, err)
		}
		if c, err = tag.Commit(); err != nil {
			return "", nil, fmt.Errorf("%q is not a commit: %w", rev, err)
		}
	}
	files, err := ReadCommit(c, dir)
	var refused *RefusedError
	if err != nil && !errors.As(err, &refused) {
		return "", nil, err
	}
	return c.Hash.String(), files, err
}

// ReadCommit reads the policy files under dir ("." or "" for the repository root) of a commit's
// tree: the same selection as ReadDir, with paths relative to dir, slash-separated and sorted.
// Hidden directories are skipped; symbolic links are not followed and submodules not read. When
// some files are refused (a file over MaxFileSize, a symbolic link, a submodule) it returns the
// files it read and a *RefusedError naming the others.
func ReadCommit(c *object.Commit, dir string) ([]schema.File, error) {
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	dir = cleanDir(dir)
	if dir != "." {
		e, err := root.FindEntry(dir)
		if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return nil, &NoDirectoryError{Dir: dir, Commit: c.Hash.String()}
		}
		if err != nil {
			return nil, fmt.Errorf("%s at commit %s: %w", dir, c.Hash, err)
		}
		if e.Mode != filemode.Dir {
			return nil, &NoDirectoryError{Dir: dir, Commit: c.Hash.String(), Found: e.Mode}
		}
		if root, err = root.Tree(dir); err != nil {
			return nil, fmt.Errorf("%s at commit %s: %w", dir, c.Hash, err)
		}
	}
	var files []schema.File
	var refused refusals
	if err := readTree(root, "", &files, &refused); err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, refused.err()
}

// NoDirectoryError says that a commit has no policy directory at the path asked for: nothing
// is there, or something other than a directory. Such a commit has no policy tree to compile.
type NoDirectoryError struct {
	Dir    string            // the policy directory, relative to the repository root
	Commit string            // the full sha
	Found  filemode.FileMode // what is at Dir instead; filemode.Empty when nothing is
}

func (e *NoDirectoryError) Error() string {
	return fmt.Sprintf("%s: %s at commit %s", e.Dir, e.Problem(), e.Commit)
}

// Problem says what is wrong without naming the directory or the commit.
func (e *NoDirectoryError) Problem() string {
	switch e.Found {
	case filemode.Empty:
		return "no such directory"
	case filemode.Symlink:
		return "not a directory (a symbolic link, not followed)"
	case filemode.Submodule:
		return "not a directory (a submodule)"
	}
	return "not a directory"
}

// cleanDir normalises a policy directory to a slash-separated relative path, "." for the root.
func cleanDir(dir string) string {
	dir = strings.ReplaceAll(dir, "\\", "/")
	dir = strings.Trim(path.Clean("/"+dir), "/")
	if dir == "" {
		return "."
	}
	return dir
}

func readTree(t *object.Tree, prefix string, files *[]schema.File, refused *refusals) error {
	for i := range t.Entries {
		e := &t.Entries[i]
		rel := path.Join(prefix, e.Name)
		switch e.Mode {
		case filemode.Dir:
			if strings.HasPrefix(e.Name, ".") {
				continue
			}
			sub, err := t.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if err := readTree(sub, rel, files, refused); err != nil {
				return err
			}
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if !IsPolicyFile(rel) {
				continue
			}
			f, err := t.TreeEntryFile(e)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if f.Size > MaxFileSize {
				refused.tooLarge(rel, f.Size)
				continue
			}
			data, err := readBlob(f, rel)
			if err != nil {
				return err
			}
			*files = append(*files, schema.File{Path: rel, Data: data})
		case filemode.Submodule:
			if !strings.HasPrefix(e.Name, ".") { // hidden, as a hidden directory is
				refused.submodule(rel)
			}
		case filemode.Symlink:
			// Whatever its name: a link to a directory would bring policy files too. The
			// link's blob is its target; only that is read, never what it points to.
			f, err := t.TreeEntryFile(e)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if f.Size > maxLinkTarget {
				refused.symlink(rel, "…")
				continue
			}
			target, err := readBlob(f, rel)
			if err != nil {
				return err
			}
			refused.symlink(rel, string(target))
		}
	}
	return nil
}

// maxLinkTarget bounds the target of a symbolic link read from git (PATH_MAX on Linux).
const maxLinkTarget = 4096

// readBlob reads one file; its size was checked first, so a huge blob is never loaded.
func readBlob(f *object.File, rel string) ([]byte, error) {
	r, err := f.Reader()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return data, nil
}
