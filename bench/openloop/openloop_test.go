package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A run against a real server sends exactly rate*duration requests and measures them from
// their scheduled time, so a server that takes 2 ms per request shows at least 2 ms.
func TestRunSendsEveryScheduledRequest(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "svc.example" {
			http.Error(w, "wrong host "+r.Host, http.StatusBadRequest)
			return
		}
		served.Add(1)
		time.Sleep(2 * time.Millisecond)
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	res, err := Run(Config{URL: srv.URL + "/x", Host: "svc.example", Rate: 200, Duration: 500 * time.Millisecond, Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Errors != 0 || served.Load() != 100 {
		t.Fatalf("got %v, server saw %d; want 100 requests, no errors", res, served.Load())
	}
	if res.P50 < 2*time.Millisecond || res.P50 > res.P99 || res.P99 > res.Max {
		t.Errorf("percentiles out of order or below the server's 2 ms: %v", res)
	}
}

// Requests that find every connection busy wait for one, and the wait is in their latency:
// one connection to a server taking 20 ms per request at 100 req/s falls behind.
func TestRunChargesQueueingToLatency(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	}))
	defer srv.Close()

	res, err := Run(Config{URL: srv.URL + "/", Rate: 100, Duration: 200 * time.Millisecond, Conns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20 || res.Late == 0 || res.Max < 150*time.Millisecond {
		t.Fatalf("got %v; want 20 requests, late ones, max ≥ 150 ms of queueing", res)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "https://127.0.0.1:1/", Rate: 1, Duration: time.Second, Conns: 1},
		{URL: "http://127.0.0.1/", Rate: 1, Duration: time.Second, Conns: 1},
		{URL: "http://127.0.0.1:1/", Rate: 0, Duration: time.Second, Conns: 1},
	} {
		if _, err := Run(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
