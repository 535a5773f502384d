package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// input is a policy tree to read: a directory on disk, policy files on disk (a pre-commit hook
// passes the files it checks, as with istioctl validate -f; "-" is standard input), or a
// directory of a git revision.
type input struct {
	dir   string   // policy directory (on disk, or inside the repository)
	files []string // policy files on disk, as given, instead of a directory
	repo  string   // git repository; empty: read the directory on disk
	ref   string
}

// resolveDir applies the CLI default: ./policies if present, else the current directory.
func (in *input) resolveDir(args []string) error {
	switch {
	case len(args) == 0:
		if in.repo != "" {
			in.dir = "policies"
			return nil
		}
		if st, err := os.Stat("policies"); err == nil && st.IsDir() {
			in.dir = "policies"
		} else {
			in.dir = "."
		}
	case len(args) == 1 && (in.repo != "" || isDir(args[0])):
		in.dir = args[0]
	case in.repo != "":
		return fmt.Errorf("with --repo, want one directory inside the repository, got %d arguments", len(args))
	default:
		for _, a := range args {
			if isDir(a) {
				return fmt.Errorf("%s: a directory among files: give one directory, or policy files", a)
			}
		}
		in.files = args
	}
	return nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// name is what the input is called in messages: the directory, or the files given.
func (in *input) name() string {
	switch len(in.files) {
	case 0:
		return in.dir
	case 1:
		return in.files[0]
	default:
		return fmt.Sprintf("%d files", len(in.files))
	}
}

// readFiles reads the policy files given, each once, named as given (findings point there).
func (in *input) readFiles() ([]schema.File, error) {
	var files []schema.File
	seen := map[string]bool{}
	for _, a := range in.files {
		name := filepath.ToSlash(filepath.Clean(a))
		if seen[name] {
			continue
		}
		seen[name] = true
		if a == "-" {
			// Standard input, as rendered by a template tool: findings say "stdin.yaml".
			data, err := io.ReadAll(io.LimitReader(os.Stdin, source.MaxFileSize+1))
			if err != nil {
				return nil, err
			}
			if len(data) > source.MaxFileSize {
				return nil, fmt.Errorf("stdin: over the limit of %d bytes", source.MaxFileSize)
			}
			files = append(files, schema.File{Path: "stdin.yaml", Data: data})
			continue
		}
		if !source.IsPolicyFile(name) {
			// Named on purpose, so not skipped as a directory walk skips it.
			return nil, fmt.Errorf("%s: not a policy file (.yaml, .yml or .cue)", name)
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if st.Size() > source.MaxFileSize {
			return nil, fmt.Errorf("%s: file is %d bytes, over the limit of %d", name, st.Size(), source.MaxFileSize)
		}
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, err
		}
		files = append(files, schema.File{Path: name, Data: data})
	}
	return files, nil
}

// read returns the files (paths relative to the policy directory) and the commit, if any.
func (in *input) read() ([]schema.File, string, error) {
	if len(in.files) > 0 {
		files, err := in.readFiles()
		return files, "", err
	}
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
	repo, err := source.OpenRepo(in.repo, source.GitAuthFromEnv())
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
	if len(in.files) > 0 {
		return findings // already named as given
	}
	return schema.Relocate(findings, filepath.ToSlash(in.dir))
}
