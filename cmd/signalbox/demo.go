package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/signalbox/signalbox/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "demo", stderr)
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(stdout, "signalbox demo: the default policies (policies/), end to end on loopback")
	if err := demo.Run(ctx, stdout); err != nil {
		fmt.Fprintln(stderr, "signalbox demo:", err)
		return exitFindings
	}
	fmt.Fprintln(stdout, "demo complete")
	return exitOK
}
