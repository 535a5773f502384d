package publisher

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/signalbox/signalbox/source"
)

// follower yields the current tip commit of the followed branch.
type follower interface {
	tip(ctx context.Context) (*object.Commit, error)
}

// newFollower picks how to follow repo: a URL is cloned into memory (no worktree, that branch
// only) and fetched; a local path is read in place. go-git reaches a local path through its
// file transport, which runs git-upload-pack, so reading the repository directly is what keeps
// the publisher free of a git binary; its refs are re-read on every poll, so new commits and
// force pushes are seen all the same.
func newFollower(ctx context.Context, repo, branch string, auth source.GitAuth) (follower, error) {
	if source.IsRemote(repo) {
		return cloneRemote(ctx, repo, branch, auth)
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return nil, err
	}
	r, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repo, err)
	}
	return &localFollower{repo: r, ref: plumbing.NewBranchReferenceName(branch)}, nil
}

type localFollower struct {
	repo *git.Repository
	ref  plumbing.ReferenceName
}

func (f *localFollower) tip(ctx context.Context) (*object.Commit, error) {
	ref, err := f.repo.Reference(f.ref, true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", f.ref.Short(), err)
	}
	return f.repo.CommitObject(ref.Hash())
}

// remoteFollower keeps an in-memory clone; after each fetch the remote-tracking ref is the truth.
type remoteFollower struct {
	repo   *git.Repository
	url    string
	auth   source.GitAuth
	branch string
	spec   config.RefSpec
	ref    plumbing.ReferenceName
}

func cloneRemote(ctx context.Context, url, branch string, auth source.GitAuth) (*remoteFollower, error) {
	method, err := auth.Method(url)
	if err != nil {
		return nil, err
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL:           url,
		Auth:          method,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		NoCheckout:    true,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, fmt.Errorf("clone %s branch %s: %w", source.RedactURL(url), branch, err)
	}
	return &remoteFollower{
		repo:   repo,
		url:    url,
		auth:   auth,
		branch: branch,
		// "+" accepts non-fast-forward updates: a force push moves the tip backwards or sideways.
		spec: config.RefSpec(fmt.Sprintf("+refs/heads/%s:refs/remotes/origin/%s", branch, branch)),
		ref:  plumbing.NewRemoteReferenceName("origin", branch),
	}, nil
}

func (f *remoteFollower) tip(ctx context.Context) (*object.Commit, error) {
	method, err := f.auth.Method(f.url) // per fetch: a token file may have been rotated
	if err != nil {
		return nil, err
	}
	err = f.repo.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{f.spec}, Auth: method, Force: true, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch %s: %w", f.branch, err)
	}
	ref, err := f.repo.Reference(f.ref, true)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", f.ref.Short(), err)
	}
	return f.repo.CommitObject(ref.Hash())
}
