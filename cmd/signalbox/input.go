package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

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
// Files over the size limit are refused, with the others read.
func (in *input) readFiles() ([]schema.File, error) {
	var files []schema.File
	var refused []source.Refusal
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
				refused = append(refused, source.TooLarge("stdin.yaml", -1))
				continue
			}
			files = append(files, schema.File{Path: "stdin.yaml", Data: data})
			continue
		}
		st, err := os.Stat(a)
		if errors.Is(err, fs.ErrNotExist) {
			// Most often a mistyped directory: say that, not what a file should be called.
			return nil, fmt.Errorf("%s: no such file or directory", name)
		}
		if err != nil {
			return nil, err
		}
		if !source.IsPolicyFile(name) {
			// Named on purpose, so not skipped as a directory walk skips it.
			return nil, fmt.Errorf("%s: not a policy file (.yaml, .yml or .cue)", name)
		}
		if st.Size() > source.MaxFileSize {
			refused = append(refused, source.TooLarge(name, st.Size()))
			continue
		}
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, err
		}
		files = append(files, schema.File{Path: name, Data: data})
	}
	if len(refused) > 0 {
		return files, &source.RefusedError{Refusals: refused}
	}
	return files, nil
}

// read returns the files (paths relative to the policy directory), the findings of the files
// refused (each an error at its first line; the files read are still validated) and the
// commit, if any.
func (in *input) read() ([]schema.File, []schema.Finding, string, error) {
	files, commit, err := in.readTree()
	var refused *source.RefusedError
	if errors.As(err, &refused) {
		return files, refused.Findings(), commit, nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	return files, nil, commit, nil
}

func (in *input) readTree() ([]schema.File, string, error) {
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

// check validates the files read, the refused ones' findings first among the findings. The
// tree of a read that refused files is incomplete: it is checked document by document only, as
// cross-resource analysis would report what the missing files declare as missing.
func check(files []schema.File, refused []schema.Finding, ignoreUnknown, analyse bool) (*schema.Tree, []schema.Finding) {
	tree, findings := validateTree(files, ignoreUnknown, analyse && len(refused) == 0)
	findings = append(slices.Clone(refused), findings...)
	schema.SortFindings(findings)
	return tree, findings
}

// display rewrites finding positions so that they are relative to where the user stands (the
// directory given on the command line) or, with --repo, to the repository root.
func (in *input) display(findings []schema.Finding) []schema.Finding {
	if len(in.files) > 0 {
		return findings // already named as given
	}
	return schema.Relocate(findings, filepath.ToSlash(in.dir))
}
