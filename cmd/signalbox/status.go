package main

import (
	"context"
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
			versionCell(p), p.InSync, p.Connected, orDash(deref(p.NackedVersion)), orDash(deref(p.Error)))
	}
	w.Flush()
	return exitOK
}

// versionCell is the version a proxy has fully applied; "mixed" when it ACKed types of
// different versions (it refused part of an update, and runs the rest of it beside what it
// kept), which the admin /status lists per type under "acked".
func versionCell(p publisher.ProxyStatus) string {
	if p.Version == "" && len(p.Acked) > 0 {
		return "mixed"
	}
	return orDash(p.Version)
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
