package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Split counts where requests landed: workload ("reviews v3") -> responses.
type Split struct {
	Counts map[string]int
	Failed int
	Total  int
}

// Share is the fraction of all requests that landed on workload.
func (s Split) Share(workload string) float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Counts[workload]) / float64(s.Total)
}

func (s Split) String() string {
	var keys []string
	for k := range s.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %5.1f%%", k, 100*s.Share(k)))
	}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("failed %d", s.Failed))
	}
	return strings.Join(parts, "   ")
}

// Send makes n requests to proxyAddr with the given Host header (and extra headers) and counts
// the workloads that answered. Every request is bounded by a timeout.
func Send(ctx context.Context, client *http.Client, proxyAddr, host, path string, n int, headers map[string]string) Split {
	s := Split{Counts: map[string]int{}}
	for i := 0; i < n; i++ {
		s.Total++
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxyAddr+path, nil)
		if err != nil {
			s.Failed++
			continue
		}
		req.Host = host
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			s.Failed++
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			s.Failed++
			continue
		}
		s.Counts[strings.TrimSpace(string(body))]++
	}
	return s
}

// NewClient is an HTTP client with pooled connections and a per-request timeout.
func NewClient() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16},
	}
}

// statusOf makes one request and returns its HTTP status code.
func statusOf(ctx context.Context, client *http.Client, proxyAddr, host, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxyAddr+path, nil)
	if err != nil {
		return 0, err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
