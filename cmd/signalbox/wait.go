package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signalbox/signalbox/publisher"
)

// lastLookTimeout bounds the read of /status that says, after a wait timed out, what the
// publisher was serving.
const lastLookTimeout = 2 * time.Second

func runWaitCommand(args []string, stdout, stderr io.Writer) int {
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
	var timedOut *publisher.TimeoutError
	switch {
	case err == nil:
		fmt.Fprintln(stdout, "every connected proxy is in sync")
		return exitOK
	case errors.As(err, &nack), errors.As(err, &rejected):
		fmt.Fprintln(stderr, "signalbox wait:", err)
		return exitFindings
	case errors.As(err, &timedOut):
		want := "commit " + *commit
		if *version != "" {
			want = "version " + *version
		}
		fmt.Fprintf(stderr, "signalbox wait: timed out after %s waiting for %s on every connected proxy: %s%s\n",
			*timeout, want, lastSeen(*admin), versionHistory(*admin, *version))
		return exitUsage
	default:
		fmt.Fprintln(stderr, "signalbox wait:", err)
		return exitUsage
	}
}

// lastSeen says what the publisher serves once a wait has timed out. The wait's own last read
// of /status may have been cut short by the deadline itself, which says nothing about the
// publisher; so /status is read once more, and only if that fails too is the publisher said
// not to answer.
func lastSeen(admin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), lastLookTimeout)
	defer cancel()
	st, err := publisher.FetchStatus(ctx, admin)
	if err != nil {
		return fmt.Sprintf("the publisher at %s does not answer: %v", admin, err)
	}
	return describeStatus(st)
}

// versionHistory says, for a wait on a version that timed out, whether the publisher ever
// published it: one it replaced since comes back only with a commit of the same tree (a revert),
// and one it never published needs its commit fetched first. "" when the publisher's history
// cannot be read or the version is the one it serves.
func versionHistory(admin, version string) string {
	if version == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), lastLookTimeout)
	defer cancel()
	entries, err := publisher.FetchHistory(ctx, admin)
	if err != nil || len(entries) == 0 {
		return ""
	}
	if entries[0].Version == version {
		return ""
	}
	for _, e := range entries[1:] {
		if e.Version == version {
			return fmt.Sprintf("; version %s was published for commit %s and has been replaced since (by %s): "+
				"it is served again only by a commit of the same tree, such as a revert", version, short(e.Commit), entries[0].Version)
		}
	}
	return fmt.Sprintf("; the publisher has never published version %s: it is a commit's version once that commit is fetched and compiled (signalbox compile prints it)", version)
}

// describeStatus sums a publisher's status up in one line: what it serves and how many of the
// connected proxies have applied it, naming those that have not.
func describeStatus(st publisher.Status) string {
	var b strings.Builder
	if st.Version == "" {
		b.WriteString("the publisher serves nothing yet")
	} else {
		fmt.Fprintf(&b, "the publisher serves commit %s (version %s)", orDash(short(st.Commit)), st.Version)
	}
	if e := st.LastError; e != nil && e.Commit != "" {
		fmt.Fprintf(&b, ", and refused commit %s", short(e.Commit))
	}
	var connected int
	var behind []string
	for _, px := range st.Proxies {
		if !px.Connected {
			continue
		}
		connected++
		if !px.InSync {
			behind = append(behind, px.NodeID+" at "+orNone(px.Version))
		}
	}
	switch {
	case connected == 0:
		b.WriteString("; no proxy is connected")
	case st.Version == "":
		fmt.Fprintf(&b, "; %d connected %s", connected, proxies(connected))
	default:
		fmt.Fprintf(&b, "; %d of %d connected %s in sync with it", connected-len(behind), connected, proxies(connected))
	}
	if len(behind) > 0 && st.Version != "" {
		const most = 5
		more := ""
		if len(behind) > most {
			more = fmt.Sprintf(" and %d more", len(behind)-most)
			behind = behind[:most]
		}
		fmt.Fprintf(&b, " (behind: %s%s)", strings.Join(behind, ", "), more)
	}
	return b.String()
}

func proxies(n int) string {
	if n == 1 {
		return "proxy"
	}
	return "proxies"
}

func orNone(version string) string {
	if version == "" {
		return "none"
	}
	return version
}
