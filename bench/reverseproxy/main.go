// Command reverseproxy is the reference point of the proxy measurements: a plain
// httputil.ReverseProxy to one backend, as a Go program would write it without tuning. The
// only change from the defaults is an idle pool of 64 connections to the backend (the same as
// nginx's upstream keepalive), because the default pool of 2 makes most requests open a new
// connection and a 10 s run could then exhaust the loopback's ephemeral ports.
//
//	GOMAXPROCS=1 reverseproxy -addr 127.0.0.1:PORT -target http://127.0.0.1:BACKEND
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	target := flag.String("target", "", "backend URL, http://HOST:PORT")
	flag.Parse()
	u, err := url.Parse(*target)
	if *target == "" || err != nil || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: reverseproxy -addr HOST:PORT -target http://HOST:PORT")
		os.Exit(2)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	rp.Transport = t
	log.Fatal(http.ListenAndServe(*addr, rp))
}
