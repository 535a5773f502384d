package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/signalbox/signalbox/proxy"
)

// newFlagSet makes a command's flag set; errors and --help go to stderr with a usage line.
func newFlagSet(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: signalbox %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they appear among the positional arguments
// ("validate policies --format json" as well as "validate --format json policies").
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseExit maps a flag error to the exit code: --help is success, anything else usage.
func parseExit(err error) int {
	if err == flag.ErrHelp {
		return exitOK
	}
	return exitUsage
}

// labelFlag collects repeatable k=v flags.
type labelFlag map[string]string

func (l labelFlag) String() string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (l labelFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

// localityFlag is a locality given as REGION[/ZONE[/SUBZONE]].
type localityFlag struct{ proxy.Locality }

func (l *localityFlag) String() string { return l.Locality.String() }

func (l *localityFlag) Set(s string) error {
	loc, err := proxy.ParseLocality(s)
	if err != nil {
		return err
	}
	l.Locality = loc
	return nil
}
