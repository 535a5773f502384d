// Command openloop sends HTTP/1.1 requests at a fixed rate and reports latency percentiles
// measured from each request's scheduled send time, not from when it was actually sent.
//
// A closed-loop generator such as wrk only sends a request when an earlier one has returned, so
// a slow response delays the requests behind it and hides them from the percentiles
// (coordinated omission). Here request i is due at start + i/rate whether or not earlier
// requests have returned; one waiting for a free connection is charged for the wait.
//
// Go's timers wake up to a millisecond late on Linux, which is more than the latency being
// measured, so the sender sleeps with clock_nanosleep on its own OS thread with the timer
// slack at its minimum (clock_linux.go), and writes each request itself when it wakes. Each
// connection's reader is already parked in the netpoller, so a response wakes it directly.
// The program raises GOMAXPROCS to 2 so readers keep a P while the sender sleeps in the kernel;
// pin it to one core with taskset as any load generator.
//
//	openloop -url http://127.0.0.1:8080/ -host svc -rate 1000 -duration 10s
//
// prints one line of key=value pairs:
//
//	requests=10000 errors=0 late=0 p50_us=81.2 p90_us=95.0 p99_us=140.3 max_us=2210.7
package main
