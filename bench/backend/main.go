// Command backend is the upstream of the proxy measurements: a net/http server that answers
// every request with the same small body (100 bytes by default), as in DESIGN.md's anchors.
//
//	GOMAXPROCS=1 backend -addr 127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	size := flag.Int("body", 100, "response body size in bytes")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: backend [-addr HOST:PORT] [-body N]")
		os.Exit(2)
	}
	body := []byte(strings.Repeat("x", *size))
	length := strconv.Itoa(len(body))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	})))
}
