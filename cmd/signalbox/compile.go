package main

import (
	"fmt"
	"io"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compile", "compile [DIR | FILE...] [-o FILE] [flags]", stderr)
	var in input
	out := fs.String("o", "", "write the snapshot file here (serve --snapshot and diff read it back)")
	fs.StringVar(&in.repo, "repo", "", "compile the tree of a git repository at --ref instead of the directory on disk")
	fs.StringVar(&in.ref, "ref", "HEAD", "git revision to compile with --repo")
	ignoreUnknown := fs.Bool("ignore-unknown", false, ignoreUnknownUsage)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if err := in.resolveDir(pos); err != nil {
		fmt.Fprintln(stderr, "signalbox compile:", err)
		return exitUsage
	}
	files, refused, commit, err := in.read()
	if err != nil {
		fmt.Fprintln(stderr, "signalbox compile:", err)
		return exitUsage
	}
	if len(refused) > 0 {
		_, findings := check(files, refused, *ignoreUnknown, false)
		_ = writeFindings("text", in.display(findings), stdout, stderr)
		return exitFindings
	}
	snap, findings := compiler.CompileFilesWithOptions(files, schema.Options{IgnoreUnknown: *ignoreUnknown})
	_ = writeFindings("text", in.display(findings), stdout, stderr)
	if schema.HasErrors(findings) || snap == nil {
		return exitFindings
	}
	snap.Commit = commit
	if *out != "" {
		if err := snap.WriteFile(*out); err != nil {
			fmt.Fprintln(stderr, "signalbox compile:", err)
			return exitUsage
		}
	}
	fmt.Fprintln(stdout, snap.Version)
	return exitOK
}
