// Command relayfloor is the floor of the proxy measurements: the least a goroutine-per-connection
// Go relay can do for the benchmark's traffic, with the same system calls as signalbox's proxy
// (a bare recvfrom and sendto through each socket's raw connection, the write upstream made
// from inside the raw read that waits for the answer, a yield before reading the next request).
// It parses nothing, routes nothing and adds no header: each client connection gets its own
// upstream connection and every read is passed on as it came. It assumes what the benchmark
// guarantees (a request and its response each arrive in one read, one request at a time) and is
// not a proxy for any other traffic. What signalbox's proxy spends per request above it is the
// cost of its HTTP handling (docs/benchmarks.md).
//
//	GOMAXPROCS=1 relayfloor -addr 127.0.0.1:PORT -target 127.0.0.1:BACKEND
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	target := flag.String("target", "", "backend address, HOST:PORT")
	flag.Parse()
	if *target == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: relayfloor -addr HOST:PORT -target HOST:PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go relay(c.(*net.TCPConn), *target)
	}
}

// relay passes requests from c to its own upstream connection and answers back until either
// side closes or fails.
func relay(c *net.TCPConn, target string) {
	defer c.Close()
	u, err := net.Dial("tcp", target)
	if err != nil {
		log.Print(err)
		return
	}
	defer u.Close()
	crc, err1 := c.SyscallConn()
	urc, err2 := u.(*net.TCPConn).SyscallConn()
	if err1 != nil || err2 != nil {
		return
	}
	req := make([]byte, 16<<10)
	resp := make([]byte, 16<<10)
	var n, m int
	var errno syscall.Errno
	var sent bool
	readRequest := func(fd uintptr) bool {
		n, errno = sysRead(fd, req)
		return errno != syscall.EAGAIN
	}
	// Written from inside the raw read: the poller is armed before the request leaves, and
	// "not ready" parks the goroutine until the answer is there.
	exchange := func(fd uintptr) bool {
		if !sent {
			sent = true
			if _, e := sysWrite(fd, req[:n]); e != 0 && e != syscall.EAGAIN {
				errno = e
				return true
			}
			return false
		}
		m, errno = sysRead(fd, resp)
		return errno != syscall.EAGAIN
	}
	answer := func(fd uintptr) bool {
		_, errno = sysWrite(fd, resp[:m])
		return errno != syscall.EAGAIN
	}
	for {
		// The client's next request is usually on its way: yielding first lets the other
		// connections run instead of finding nothing to read and parking.
		runtime.Gosched()
		if err := crc.Read(readRequest); err != nil || errno != 0 || n == 0 {
			return
		}
		sent = false
		if err := urc.Read(exchange); err != nil || errno != 0 || m == 0 {
			return
		}
		if err := crc.Write(answer); err != nil || errno != 0 {
			return
		}
	}
}
