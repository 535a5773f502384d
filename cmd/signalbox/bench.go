package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signalbox/signalbox/publisher/xdsbench"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", "bench xds [--clients 100,1000] [--services 100] [--rounds 5] [--modes sotw,delta] [--by-name] [--baseline]", stderr)
	clients := fs.String("clients", "100,1000", "numbers of ADS clients, comma-separated")
	services := fs.Int("services", 100, "services in the synthetic policy tree")
	rounds := fs.Int("rounds", 5, "one-route commits timed per run")
	modes := fs.String("modes", "sotw,delta", "xDS variants: sotw, delta")
	byName := fs.Bool("by-name", false, "clients ask for routes and endpoints by name, as Envoy does (default: every resource)")
	baseline := fs.Bool("baseline", true, "also run go-control-plane's SnapshotCache with the same clients")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up on a wait for the clients after this long")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(pos) != 1 || pos[0] != "xds" {
		fmt.Fprintln(stderr, "signalbox bench: the only benchmark is 'xds'")
		return exitUsage
	}
	var ns []int
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "signalbox bench: --clients: %q is not a positive number\n", s)
			return exitUsage
		}
		ns = append(ns, n)
	}
	servers := []bool{false}
	if *baseline {
		servers = append(servers, true)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "SERVER\tMODE\tCLIENTS\tSERVICES\tCOMMIT→SYNC p50\tp99\tPUBLISH→SYNC p50\tp99\tHEAP/CLIENT\tFULL PUSH B/CLIENT\tCHANGE B/CLIENT\tCHANGE÷FULL\t")
	p99 := map[string]time.Duration{}
	for _, n := range ns {
		for _, mode := range strings.Split(*modes, ",") {
			for _, b := range servers {
				cfg := xdsbench.Config{Clients: n, Services: *services, Rounds: *rounds, Delta: mode == "delta", ByName: *byName, Baseline: b, Timeout: *timeout}
				r, err := xdsbench.Run(context.Background(), cfg)
				if err != nil {
					fmt.Fprintf(stderr, "signalbox bench: %s/%s/%d: %v\n", r.Server(), r.Mode(), n, err)
					return exitFindings
				}
				q := func(ds []time.Duration, f float64) string {
					return xdsbench.Quantile(ds, f).Round(100 * time.Microsecond).String()
				}
				p99[fmt.Sprint(b, mode, n)] = xdsbench.Quantile(r.PublishToSync, 0.99)
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%.0f\t%.0f\t%.2f%%\t\n", r.Server(), r.Mode(), n, *services,
					q(r.CommitToSync, .5), q(r.CommitToSync, .99), q(r.PublishToSync, .5), q(r.PublishToSync, .99),
					r.HeapPerClient, r.FullPushBytes, r.ChangeBytes, 100*r.ChangeBytes/r.FullPushBytes)
				w.Flush()
			}
		}
	}
	if *baseline {
		fmt.Fprintln(stdout, "\npublish→sync p99, SnapshotCache / signalbox:")
		for _, n := range ns {
			for _, mode := range strings.Split(*modes, ",") {
				if s := p99[fmt.Sprint(false, mode, n)]; s > 0 {
					fmt.Fprintf(stdout, "  %s %d clients: %.2fx\n", mode, n, float64(p99[fmt.Sprint(true, mode, n)])/float64(s))
				}
			}
		}
	}
	return exitOK
}
