package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.URL, "url", "", "target URL, http://HOST:PORT/PATH")
	flag.StringVar(&cfg.Host, "host", "", "Host header to send; empty: the URL's host")
	flag.Float64Var(&cfg.Rate, "rate", 1000, "requests per second")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send")
	flag.IntVar(&cfg.Conns, "conns", 16, "keep-alive connections (workers)")
	flag.Parse()
	if cfg.URL == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: openloop -url http://HOST:PORT/PATH [-host H] [-rate R] [-duration D] [-conns N]")
		os.Exit(2)
	}
	res, err := Run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
	fmt.Println(res)
	if res.Errors > 0 {
		os.Exit(1)
	}
}

func init() {
	// Responses are read on the runtime's Ps while the sender sleeps in the kernel on its own
	// thread; with one P the readers could wait for the sender to wake up.
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}
