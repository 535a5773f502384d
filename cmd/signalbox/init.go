package main

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// initTemplate is the policy repository `signalbox init` writes: example policies, their
// settings, a README and the GitHub Actions workflow ("all:" keeps .github).
//
//go:embed all:initdata
var initTemplate embed.FS

func runInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("init", "init [DIR] [flags]", stderr)
	force := fs.Bool("force", false, "write into a directory that is not empty (template files are overwritten)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	dir := "."
	switch len(pos) {
	case 0:
	case 1:
		dir = pos[0]
	default:
		fmt.Fprintf(stderr, "signalbox init: want one directory, got %d arguments\n", len(pos))
		return exitUsage
	}
	if !*force {
		if empty, err := isEmptyDir(dir); err != nil {
			fmt.Fprintln(stderr, "signalbox init:", err)
			return exitUsage
		} else if !empty {
			fmt.Fprintf(stderr, "signalbox init: %s is not empty (use --force to write into it)\n", dir)
			return exitUsage
		}
	}
	written, err := scaffold(dir)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox init:", err)
		return exitUsage
	}
	for _, p := range written {
		fmt.Fprintln(stdout, "wrote", p)
	}
	fmt.Fprintf(stdout, "next: signalbox validate %s\n", filepath.ToSlash(filepath.Join(dir, "policies")))
	return exitOK
}

// isEmptyDir reports whether dir is missing or has no entries.
func isEmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// scaffold writes the template under dir and returns the paths it wrote, slash-separated.
func scaffold(dir string) ([]string, error) {
	root, err := fs.Sub(initTemplate, "initdata")
	if err != nil {
		return nil, err
	}
	var written []string
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		written = append(written, filepath.ToSlash(dst))
		return nil
	})
	return written, err
}
