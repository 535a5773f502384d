package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/compiler/diff"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// exitChanged is diff's exit code when traffic changes, like `terraform plan -detailed-exitcode`.
const exitChanged = 3

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("diff", "diff BASE HEAD [flags]\n\nBASE and HEAD are git revisions of --repo, or snapshot files written by 'compile -o'.\nExit 0 no traffic change, 3 changes, 1 a side does not compile, 2 usage or I/O error.", stderr)
	repo := fs.String("repo", ".", "git repository whose revisions BASE and HEAD name")
	dir := fs.String("dir", "policies", "policy directory inside the repository")
	format := fs.String("format", "text", "output format: text, markdown or json")
	ignoreUnknown := fs.Bool("ignore-unknown", false, ignoreUnknownUsage)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "signalbox diff: want BASE and HEAD, got %d arguments\n", len(pos))
		return exitUsage
	}
	write := map[string]func(*diff.Report, io.Writer) error{
		"text":     (*diff.Report).WriteText,
		"markdown": (*diff.Report).WriteMarkdown,
		"json":     (*diff.Report).WriteJSON,
	}[*format]
	if write == nil {
		fmt.Fprintf(stderr, "signalbox diff: unknown --format %q (text, markdown, json)\n", *format)
		return exitUsage
	}
	side := &diffSource{repoPath: *repo, dir: *dir, opts: schema.Options{IgnoreUnknown: *ignoreUnknown}}
	var snaps [2]*compiler.Snapshot
	var sides [2]diff.Side
	// Both sides are loaded, so that each one that does not compile is reported.
	failed := false
	var missing [2]string
	for i, arg := range pos {
		snap, ref, code := side.load(arg, stderr)
		switch {
		case code == exitOK:
			snaps[i], sides[i] = snap, diff.Side{Ref: ref, Version: snap.Version}
		case code == exitNoDirectory:
			missing[i] = ref
		case code == exitFindings:
			failed = true
		default:
			return code
		}
	}
	// A base without the policy directory is the pull request that adds it: everything it
	// brings is a change. A head without it is refused (the publisher refuses such a commit),
	// and so are two sides without it, most likely a mistyped --dir.
	switch {
	case missing[1] != "":
		fmt.Fprintln(stderr, "signalbox diff:", missing[1])
		if missing[0] != "" {
			fmt.Fprintln(stderr, "signalbox diff:", missing[0])
		}
		return exitFindings
	case failed:
		return exitFindings
	case missing[0] != "":
		fmt.Fprintf(stderr, "signalbox diff: %s; compared as an empty tree\n", missing[0])
		empty, findings := compiler.CompileFiles(nil)
		if empty == nil {
			fmt.Fprintln(stderr, "signalbox diff: an empty tree does not compile:", findings)
			return exitUsage
		}
		snaps[0], sides[0] = empty, diff.Side{Ref: pos[0], Version: empty.Version}
	}
	report, err := diff.Compare(snaps[0], snaps[1])
	if err != nil {
		fmt.Fprintln(stderr, "signalbox diff:", err)
		return exitUsage
	}
	report.Base, report.Head = sides[0], sides[1]
	if err := write(report, stdout); err != nil {
		fmt.Fprintln(stderr, "signalbox diff:", err)
		return exitUsage
	}
	if report.Changed() {
		return exitChanged
	}
	return exitOK
}

// exitNoDirectory is diffSource.load's code for a revision without the policy directory; it
// never leaves the command.
const exitNoDirectory = -1

// diffSource loads one side of a diff: a snapshot file when the argument names a file, else a
// revision of the repository (opened once) compiled from its policy directory.
type diffSource struct {
	repoPath, dir string
	opts          schema.Options
	repo          *git.Repository
}

func (d *diffSource) load(arg string, stderr io.Writer) (*compiler.Snapshot, string, int) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		snap, err := compiler.ReadFile(arg)
		if err != nil {
			fmt.Fprintln(stderr, "signalbox diff:", err)
			return nil, "", exitUsage
		}
		return snap, filepath.ToSlash(arg), exitOK
	}
	if d.repo == nil {
		repo, err := source.OpenRepo(d.repoPath, source.GitAuthFromEnv())
		if err != nil {
			fmt.Fprintf(stderr, "signalbox diff: %s is neither a snapshot file nor a revision: %v\n", arg, err)
			return nil, "", exitUsage
		}
		d.repo = repo
	}
	commit, files, err := source.ReadRevision(d.repo, arg, d.dir)
	var refused *source.RefusedError
	if errors.As(err, &refused) {
		// Files the source refused: the side is incomplete, so it does not compile.
		_, findings := check(files, refused.Findings(), d.opts.IgnoreUnknown, false)
		return nil, "", d.notCompiled(arg, commit, findings, stderr)
	}
	var noDir *source.NoDirectoryError
	if errors.As(err, &noDir) {
		// A revision without the policy directory has no policy tree: run decides what that
		// means for its side (the ref carries the message).
		return nil, fmt.Sprintf("%s (%s) has no policy tree: %s: %s", arg, short(noDir.Commit), noDir.Dir, noDir.Problem()), exitNoDirectory
	}
	if err != nil {
		fmt.Fprintln(stderr, "signalbox diff:", err)
		return nil, "", exitUsage
	}
	snap, findings := compiler.CompileFilesWithOptions(files, d.opts)
	if snap == nil || schema.HasErrors(findings) {
		return nil, "", d.notCompiled(arg, commit, findings, stderr)
	}
	snap.Commit = commit
	return snap, arg, exitOK
}

// notCompiled reports a side that does not compile, with its findings.
func (d *diffSource) notCompiled(arg, commit string, findings []schema.Finding, stderr io.Writer) int {
	fmt.Fprintf(stderr, "signalbox diff: %s (%s) does not compile:\n", arg, short(commit))
	_ = writeFindings("text", schema.Relocate(findings, filepath.ToSlash(d.dir)), stderr, stderr)
	return exitFindings
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return strings.TrimSpace(commit)
}
