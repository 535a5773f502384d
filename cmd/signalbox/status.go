package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signalbox/signalbox/publisher"
)

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "status --admin ADDR", stderr)
	admin := fs.String("admin", "127.0.0.1:18001", "publisher admin address")
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := publisher.FetchStatus(ctx, *admin)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox status:", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "version %s  commit %s\n", orDash(st.Version), orDash(st.Commit))
	if st.LastError != nil {
		fmt.Fprintf(stdout, "last error (commit %s):\n  %s\n", st.LastError.Commit, strings.ReplaceAll(st.LastError.Message, "\n", "\n  "))
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nNODE\tROLE\tNAMESPACE\tLOCALITY\tLABELS\tVERSION\tIN SYNC\tCONNECTED\tNACKED\tERROR")
	for _, p := range st.Proxies {
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
			labels = append(labels, k+"="+p.Labels[k])
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%t\t%t\t%s\t%s\n", p.NodeID, orDash(p.Role), orDash(p.Namespace), orDash(p.Locality), orDash(strings.Join(labels, ",")),
			orDash(p.Version), p.InSync, p.Connected, orDash(deref(p.NackedVersion)), orDash(deref(p.Error)))
	}
	w.Flush()
	return exitOK
}

func runWait(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("wait", "wait --admin ADDR (--commit SHA | --version V) --timeout D", stderr)
	admin := fs.String("admin", "127.0.0.1:18001", "publisher admin address")
	commit := fs.String("commit", "", "wait for this commit (full sha or prefix)")
	version := fs.String("version", "", "wait for this snapshot version")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long (exit 2)")
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	if (*commit == "") == (*version == "") {
		fmt.Fprintln(stderr, "signalbox wait: give exactly one of --commit and --version")
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err := publisher.Wait(ctx, *admin, *commit, *version)
	var nack *publisher.NACKError
	var rejected *publisher.RejectedError
	switch {
	case err == nil:
		fmt.Fprintln(stdout, "every connected proxy is in sync")
		return exitOK
	case errors.As(err, &nack), errors.As(err, &rejected):
		fmt.Fprintln(stderr, "signalbox wait:", err)
		return exitFindings
	default:
		fmt.Fprintln(stderr, "signalbox wait:", err)
		return exitUsage
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
