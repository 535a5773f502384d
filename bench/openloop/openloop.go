package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Config is one fixed-rate run.
type Config struct {
	URL      string        // http://HOST:PORT/PATH
	Host     string        // Host header; empty: the URL's host
	Rate     float64       // requests per second
	Duration time.Duration // how long to send; the run ends at most 5 s later
	Conns    int           // keep-alive connections, one worker each
}

// Result holds the latencies from each request's scheduled send time to the end of its response.
type Result struct {
	Requests           int // responses received, any status
	Errors             int // transport errors and statuses other than 200
	Late               int // requests that waited over 1 ms for a free connection
	P50, P90, P99, Max time.Duration
}

func (r Result) String() string {
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
	return fmt.Sprintf("requests=%d errors=%d late=%d p50_us=%s p90_us=%s p99_us=%s max_us=%s",
		r.Requests, r.Errors, r.Late, us(r.P50), us(r.P90), us(r.P99), us(r.Max))
}

// drainGrace bounds how long the run waits for responses after the last scheduled send.
const drainGrace = 5 * time.Second

// Run sends Rate*Duration GET requests, request i due at start+i/Rate, over Conns keep-alive
// connections, and waits for their responses.
func Run(cfg Config) (Result, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return Result{}, fmt.Errorf("url %q: want http://HOST:PORT/PATH", cfg.URL)
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 || cfg.Conns <= 0 {
		return Result{}, errors.New("rate, duration and conns must be positive")
	}
	host := cfg.Host
	if host == "" {
		host = u.Host
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: openloop\r\n\r\n")
	n := int(cfg.Rate * cfg.Duration.Seconds())
	interval := float64(time.Second) / cfg.Rate
	deadline := time.Now().Add(cfg.Duration + drainGrace)

	conns := make([]net.Conn, cfg.Conns)
	for i := range conns {
		if conns[i], err = dial(u.Host, deadline); err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, err
		}
	}

	// Each connection has a reader goroutine that is already waiting in the netpoller when its
	// request goes out, so the response wakes it directly; the sender writes the request
	// itself the moment it wakes, with no hand-off between them.
	idle := make(chan *conn, cfg.Conns)
	cs := make([]*conn, cfg.Conns)
	var wg sync.WaitGroup
	for i := range cs {
		cn := &conn{c: conns[i], br: bufio.NewReaderSize(conns[i], 16<<10), due: make(chan int64, 1),
			lat: make([]time.Duration, 0, n/cfg.Conns+16)}
		cs[i] = cn
		idle <- cn
		wg.Add(1)
		go func() {
			defer wg.Done()
			cn.read(u.Host, idle, deadline)
		}()
	}

	go func() {
		// The sender owns an OS thread so its kernel sleeps (and their timer slack) are its own.
		runtime.LockOSThread()
		preciseThread()
		start := monoNow() + int64(10*time.Millisecond)
		for i := range n {
			t := start + int64(float64(i)*interval)
			sleepUntil(t)
			// With every connection busy the sender waits, and the requests due meanwhile go
			// out late, each charged from its own due time.
			cn := <-idle
			if monoNow()-t > int64(time.Millisecond) {
				cn.late++
			}
			cn.due <- t
			if _, err := cn.c.Write(req); err != nil {
				cn.c.Close() // the reader sees the failure, counts it and reconnects
			}
		}
		// Once every connection is back (its last response read, or the deadline passed),
		// closing it ends its reader, which is parked in Peek.
		for range cs {
			cn := <-idle
			close(cn.due)
			cn.c.Close()
		}
	}()
	wg.Wait()

	var res Result
	var all []time.Duration
	for _, cn := range cs {
		all = append(all, cn.lat...)
		res.Errors += cn.errors
		res.Late += cn.late
	}
	res.Requests = len(all)
	if lost := n - res.Requests - res.Errors; lost > 0 {
		res.Errors += lost // never answered before the deadline
	}
	slices.Sort(all)
	res.P50, res.P90, res.P99 = quantile(all, 0.50), quantile(all, 0.90), quantile(all, 0.99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res, nil
}

func dial(addr string, deadline time.Time) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline) // one deadline for the whole run: a hung target cannot hang the run
	return c, nil
}

// conn is one keep-alive connection; the sender and its reader take turns through idle.
type conn struct {
	c    net.Conn
	br   *bufio.Reader
	due  chan int64 // the due time of the request in flight, sent before the request is written
	lat  []time.Duration
	late int // written by the sender only, read after the run

	errors int
}

// read waits for each response, records its latency from the request's due time and hands
// the connection back to the sender.
func (cn *conn) read(addr string, idle chan<- *conn, deadline time.Time) {
	defer func() { cn.c.Close() }()
	for {
		_, perr := cn.br.Peek(1) // park in the netpoller before the request is even sent
		due, ok := <-cn.due
		if !ok {
			return
		}
		code, reuse, err := 0, false, perr
		if err == nil {
			code, reuse, err = readResponse(cn.br)
		}
		done := monoNow()
		if err == nil {
			cn.lat = append(cn.lat, time.Duration(done-due))
		}
		if err != nil || code != http.StatusOK {
			cn.errors++
		}
		if err != nil || !reuse {
			// A broken or closed connection is replaced, so it does not take a worker away; if
			// the target is gone, the closed one stays and every later request on it fails.
			cn.c.Close()
			if c, err := dial(addr, deadline); err == nil {
				cn.c = c
				cn.br.Reset(c)
			}
		}
		idle <- cn
	}
}

// readResponse reads one whole response; reuse is false when the server closes the
// connection after it.
func readResponse(br *bufio.Reader) (status int, reuse bool, err error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, !resp.Close, err
}

// quantile is the nearest-rank q-quantile of sorted d.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}
