package main

import (
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/signalbox/signalbox/publisher"
)

func runRollback(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rollback", "rollback VERSION --repo PATH [--admin ADDR | --state-dir DIR] [--commit]", stderr)
	repo := fs.String("repo", ".", "local clone of the policy repository")
	branch := fs.String("branch", "main", "branch the publisher follows")
	dir := fs.String("dir", "policies", "policy directory inside the repository")
	admin := fs.String("admin", "127.0.0.1:18001", "publisher admin address, for its history")
	stateDir := fs.String("state-dir", "", "read the history from a publisher's state directory instead")
	commit := fs.Bool("commit", false, `make the revert: one commit "Revert to VERSION" restoring the policy directory`)
	author := fs.String("author", "signalbox rollback", "author name of the revert commit")
	email := fs.String("email", "rollback@signalbox.invalid", "author email of the revert commit")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "signalbox rollback: give exactly one VERSION (see 'signalbox history')")
		return exitUsage
	}
	version := pos[0]
	hist, err := readHistory(*admin, *stateDir)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox rollback:", err)
		return exitUsage
	}
	target, err := publisher.PublishedBy(hist, version)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox rollback:", err)
		return exitFindings
	}
	plan, err := publisher.RollbackPlan(*repo, *branch, target)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox rollback:", err)
		return exitFindings
	}
	if len(plan) == 0 {
		fmt.Fprintf(stdout, "version %s was published by %s, the tip of %s: nothing to revert\n", version, shortSHA(target), *branch)
		return exitOK
	}
	if !*commit {
		fmt.Fprintf(stdout, "# version %s was published by %s; %d commit(s) since\n", version, shortSHA(target), len(plan))
		fmt.Fprintln(stdout, publisher.RevertCommand(plan, version))
		return exitOK
	}
	sha, err := publisher.CommitRollback(*repo, *dir, target, version, object.Signature{Name: *author, Email: *email})
	if err != nil {
		fmt.Fprintln(stderr, "signalbox rollback:", err)
		return exitFindings
	}
	fmt.Fprintf(stdout, "committed %s: Revert to %s (restores %s as of %s); push it to publish\n", sha, version, *dir, shortSHA(target))
	return exitOK
}
