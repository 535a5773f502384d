package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/signalbox/signalbox/proxy"
)

// proxyGCPercent is the proxy command's garbage-collection target when GOGC is not set.
const proxyGCPercent = 400

// namespaceName is a Kubernetes namespace name (a DNS label), which Istio's namespaces are.
var namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func runProxy(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("proxy", "proxy --xds ADDR --node-id ID [--label k=v]... [--namespace NS] [--locality REGION[/ZONE[/SUBZONE]]] [flags]", stderr)
	xdsAddr := fs.String("xds", "127.0.0.1:18000", "publisher xDS address")
	host, _ := os.Hostname()
	nodeID := fs.String("node-id", host, "node id, one per proxy instance")
	labels := labelFlag{}
	fs.Var(labels, "label", "label k=v that selects this proxy's role (repeatable), e.g. istio=ingressgateway")
	var locality localityFlag
	fs.Var(&locality, "locality", "where this proxy runs, `REGION[/ZONE[/SUBZONE]]`, e.g. us-east1/us-east1-b: the xDS node's locality, by which the publisher prioritises and weighs endpoints; empty: none")
	namespace := fs.String("namespace", "", "the namespace this proxy's workload runs in, sent as Istio's NAMESPACE node metadata: it chooses the Sidecar that applies, the ServiceEntries, VirtualServices and DestinationRules exported there, and matches with a sourceNamespace; a gateway proxy takes its Gateway's namespace; empty: none")
	adminAddr := fs.String("admin-addr", "", "admin HTTP address (/healthz, /ready, /config); empty: none")
	binds := labelFlag{}
	fs.Var(binds, "bind", "bind FROM=TO: listen on TO where xDS says FROM, e.g. 0.0.0.0:8080=127.0.0.1:18080 (repeatable)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (for bench/proxy-profile.sh)")
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	if *namespace != "" && !namespaceName.MatchString(*namespace) {
		fmt.Fprintf(stderr, "signalbox proxy: --namespace %q: a namespace is a DNS label (lower-case letters, digits and '-', at most 63)\n", *namespace)
		return exitUsage
	}
	if os.Getenv("GOGC") == "" {
		// The proxy's heap is small and mostly per-request garbage: collecting less often
		// trades a few MiB of memory for CPU on the forwarding path. GOGC still overrides.
		debug.SetGCPercent(proxyGCPercent)
	}
	if *cpuProfile != "" {
		// Profiling the real process under load shows what the in-process benchmark hides:
		// the scheduler, the network poller and the syscalls of one core serving many sockets.
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "signalbox proxy:", err)
			return exitUsage
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "signalbox proxy:", err)
			return exitUsage
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	p := proxy.New(proxy.Options{
		XDSAddr: *xdsAddr, NodeID: *nodeID, Labels: labels, Locality: locality.Locality, Namespace: *namespace, Logger: logger,
		Rebind: rebindFunc(binds), BindFrom: bindFroms(binds),
	})
	if *adminAddr != "" {
		ln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			fmt.Fprintln(stderr, "signalbox proxy:", err)
			return exitUsage
		}
		logger.Info("admin listening", "addr", ln.Addr().String())
		srv := &http.Server{Handler: p.AdminHandler()}
		go srv.Serve(ln)
		defer srv.Close()
	}
	if err := p.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "signalbox proxy:", err)
		return exitFindings
	}
	return exitOK
}

// bindFroms are the FROM addresses of --bind that name one listener ("*" names them all).
func bindFroms(binds map[string]string) []string {
	var froms []string
	for from := range binds {
		if from != "*" {
			froms = append(froms, from)
		}
	}
	slices.Sort(froms)
	return froms
}

// rebindFunc maps xDS listener addresses to local ones; "*" as FROM matches every listener.
func rebindFunc(binds map[string]string) func(string) string {
	if len(binds) == 0 {
		return nil
	}
	return func(addr string) string {
		if to, ok := binds[addr]; ok {
			return to
		}
		if to, ok := binds["*"]; ok {
			return strings.TrimSpace(to)
		}
		return addr
	}
}
