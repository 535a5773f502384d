// Command signalbox validates Istio traffic policies, compiles them into versioned Envoy xDS
// snapshots, publishes them from a git branch, and runs the data-plane proxy that follows them.
// All logic lives in the packages; this command is flags and output.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFindings = 1 // findings of error severity, a NACK, a failed check
	exitUsage    = 2 // bad flags, unreadable input, I/O errors, timeouts
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"validate", "check a policy tree; findings as FILE:LINE:COL", runValidate},
		{"compile", "compile a policy tree into a snapshot file; prints its version", runCompile},
		{"diff", "show what changes for traffic between two revisions or snapshot files", runDiff},
		{"init", "scaffold a policy repository with a CI workflow", runInit},
		{"serve", "follow a git branch and publish snapshots over xDS", runServe},
		{"status", "show the proxies of a publisher and their versions", runStatus},
		{"wait", "wait until every proxy has applied a commit or version", runWaitCommand},
		{"history", "list the snapshots a publisher has published, newest first", runHistory},
		{"rollback", "print (or make) the git revert that restores a published version", runRollback},
		{"bench", "measure xDS fan-out: many ADS clients, one-route commits", runBench},
		{"proxy", "run the data-plane proxy that follows a publisher", runProxy},
		{"demo", "run the default policies end to end on loopback", runDemo},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "signalbox: unknown command %q (run 'signalbox help')\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `signalbox compiles Istio traffic policies kept in git into Envoy xDS snapshots,
publishes them, and runs a proxy that follows them.

Usage: signalbox COMMAND [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'signalbox COMMAND --help' for the flags of a command.
Exit codes: 0 success, 1 findings or failure, 2 usage or I/O error.
`)
}
