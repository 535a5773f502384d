package publisher

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signalbox/signalbox/compiler"
)

// start runs a publisher on free loopback ports until the test ends.
func start(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	cfg.XDSAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	if cfg.Poll == 0 {
		cfg.Poll = time.Hour // tests call Sync themselves
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Error("publisher did not stop")
		}
	})
	return p
}

// startServing runs a publisher following a repository of the default tree, then publishes s
// over it: the xDS tests drive the server with snapshots they build themselves.
func startServing(t *testing.T, s *compiler.Snapshot) *Publisher {
	t.Helper()
	r := newGitRepo(t)
	r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir})
	p.publish(s)
	return p
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func httpGet(t *testing.T, p *Publisher, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.AdminAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func proxyStatus(p *Publisher, id string) (ProxyStatus, bool) {
	for _, px := range p.Status().Proxies {
		if px.NodeID == id {
			return px, true
		}
	}
	return ProxyStatus{}, false
}

// metricSum adds up every series of a metric in a Prometheus text exposition.
func metricSum(text, name string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest == "" || (rest[0] != ' ' && rest[0] != '{')) {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
