package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/signalbox/signalbox/publisher"
)

func runHistory(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("history", "history (--admin ADDR | --state-dir DIR)", stderr)
	admin := fs.String("admin", "127.0.0.1:18001", "publisher admin address")
	stateDir := fs.String("state-dir", "", "read a publisher's state directory instead of asking it")
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	hist, err := readHistory(*admin, *stateDir)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox history:", err)
		return exitUsage
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tCOMMIT\tAUTHOR\tCOMMITTED\tPUBLISHED")
	for _, e := range hist {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Version, orDash(shortSHA(e.Commit)), orDash(e.Author),
			orDash(formatTime(e.CommittedAt)), formatTime(e.PublishedAt))
	}
	w.Flush()
	return exitOK
}

// readHistory reads the publish history from a state directory when given, else from a
// running publisher.
func readHistory(admin, stateDir string) ([]publisher.HistoryEntry, error) {
	if stateDir != "" {
		return publisher.ReadHistory(stateDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return publisher.FetchHistory(ctx, admin)
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
