package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/publisher"
)

// servingPublisher is `signalbox serve` running as a child process.
type servingPublisher struct {
	*child
	xds, admin string
}

// startServe runs the publisher on repo with a state dir, polling often; xdsAddr may be a
// port just released by a killed publisher, which the kernel may briefly refuse.
func startServe(t *testing.T, repo, state, xdsAddr string) *servingPublisher {
	t.Helper()
	var lastErr error
	for range 20 {
		c := startChild(t, nil, "serve", "--repo", repo, "--state-dir", state, "--poll", "50ms",
			"--xds-addr", xdsAddr, "--admin-addr", "127.0.0.1:0")
		xds, err := c.awaitLog("serving", "xds")
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return &servingPublisher{child: c, xds: xds, admin: c.logValue("serving", "admin")}
	}
	t.Fatal(lastErr)
	return nil
}

// awaitStatus polls GET /status until cond holds.
func (p *servingPublisher) awaitStatus(t *testing.T, what string, cond func(publisher.Status) bool) publisher.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var st publisher.Status
	for {
		resp, err := http.Get("http://" + p.admin + "/status")
		if err == nil {
			st = publisher.Status{}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
		}
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: last status %+v (%v)", what, st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushes is signalbox_pushes_total by resource type URL.
func (p *servingPublisher) pushes(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		// signalbox_pushes_total{type="envoy.config.listener.v3.Listener"} 1
		rest, ok := strings.CutPrefix(sc.Text(), `signalbox_pushes_total{type="`)
		if !ok {
			continue
		}
		typ, value, _ := strings.Cut(rest, `"} `)
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		n[resource.APITypePrefix+typ] = int(v)
	}
	return n
}

func proxyOf(st publisher.Status, node string) publisher.ProxyStatus {
	for _, px := range st.Proxies {
		if px.NodeID == node {
			return px
		}
	}
	return publisher.ProxyStatus{}
}

// proxyAt reports whether node is connected and has applied version.
func proxyAt(st publisher.Status, node, version string) bool {
	for _, px := range st.Proxies {
		if px.NodeID == node {
			return px.Connected && px.Version == version && st.Version == version
		}
	}
	return false
}
