package demo

import "github.com/signalbox/signalbox/internal/gitrepo"

// Repo is the scratch git repository the demo commits to.
type Repo = gitrepo.Repo

// InitRepo makes a repository in dir whose branch is main.
func InitRepo(dir string) (*Repo, error) { return gitrepo.Init(dir) }
