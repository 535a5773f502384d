package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// input is a policy tree to read: a directory on disk, or a directory of a git revision.
type input struct {
	dir  string // policy directory (on disk, or inside the repository)
	repo string // git repository; empty: read the directory on disk
	ref  string
}

// resolveDir applies the CLI default: ./policies if present, else the current directory.
func (in *input) resolveDir(args []string) error {
	switch len(args) {
	case 0:
		if in.repo != "" {
			in.dir = "policies"
			return nil
		}
		if st, err := os.Stat("policies"); err == nil && st.IsDir() {
			in.dir = "policies"
		} else {
			in.dir = "."
		}
	case 1:
		in.dir = args[0]
	default:
		return fmt.Errorf("want at most one directory, got %d arguments", len(args))
	}
	return nil
}

// read returns the files (paths relative to the policy directory) and the commit, if any.
func (in *input) read() ([]schema.File, string, error) {
	if in.repo == "" {
		st, err := os.Stat(in.dir)
		if err != nil {
			return nil, "", err
		}
		if !st.IsDir() {
			return nil, "", fmt.Errorf("%s: not a directory", in.dir)
		}
		files, err := source.ReadDir(in.dir)
		return files, "", err
	}
	repo, err := source.OpenRepo(in.repo)
	if err != nil {
		return nil, "", err
	}
	ref := in.ref
	if ref == "" {
		ref = "HEAD"
	}
	commit, files, err := source.ReadRevision(repo, ref, in.dir)
	return files, commit, err
}

// display rewrites finding positions so that they are relative to where the user stands (the
// directory given on the command line) or, with --repo, to the repository root.
func (in *input) display(findings []schema.Finding) []schema.Finding {
	return schema.Relocate(findings, filepath.ToSlash(in.dir))
}
