package e2e

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signalbox/signalbox/internal/testnet"
)

// heldServer is an echo backend that holds every request until released, so a test knows
// exactly how many requests are in flight between the proxy and its upstream.
type heldServer struct {
	*echoServer
	arrived chan struct{}

	mu   sync.Mutex
	gate chan struct{}
}

func startHeldServer(t *testing.T, name string) *heldServer {
	t.Helper()
	h := &heldServer{echoServer: startEchoServer(t, name), arrived: make(chan struct{}, 64), gate: make(chan struct{})}
	h.setBehave(func(_ int64, _ http.ResponseWriter, r *http.Request) bool {
		h.mu.Lock()
		gate := h.gate
		h.mu.Unlock()
		h.arrived <- struct{}{}
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		return false
	})
	// Runs before the server's own cleanup closes it, so no handler is left waiting.
	t.Cleanup(h.open)
	return h
}

// open lets every request held so far answer; later ones are held again.
func (h *heldServer) open() {
	h.mu.Lock()
	close(h.gate)
	h.gate = make(chan struct{})
	h.mu.Unlock()
}

// admitted measures a cluster's request limit through the proxy: it sends requests for host
// one at a time, each held by the backend once it arrives, until one is refused as an overflow
// (503 with x-envoy-overloaded, never reaching the backend) or upTo are in flight. It returns
// how many were let through, then releases them and checks they all succeed.
func admitted(t *testing.T, m *meshEnv, h *heldServer, host string, headers map[string]string, upTo int) int {
	t.Helper()
	type result struct {
		r   reply
		err error
	}
	done := make(chan result, upTo+1)
	inFlight := 0
	defer func() {
		h.open()
		for range inFlight {
			select {
			case res := <-done:
				if res.err != nil || res.r.status != http.StatusOK {
					t.Errorf("%s %v: a held request ended with %d %v", host, headers, res.r.status, res.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s %v: held requests never finished once released", host, headers)
			}
		}
	}()
	for inFlight < upTo {
		go func() {
			r, err := m.try(http.MethodGet, host, "/", headers)
			done <- result{r, err}
		}()
		select {
		case <-h.arrived:
			inFlight++
		case res := <-done:
			if res.err != nil || res.r.status != http.StatusServiceUnavailable || res.r.header.Get("X-Envoy-Overloaded") != "true" {
				t.Fatalf("%s %v: request %d answered %d %q (overloaded %q), %v; want it held or refused as an overflow",
					host, headers, inFlight+1, res.r.status, res.r.body, res.r.header.Get("X-Envoy-Overloaded"), res.err)
			}
			return inFlight
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %v: request %d neither reached the backend nor was answered", host, headers, inFlight+1)
		}
	}
	return inFlight
}

// twoPortService is web.default.svc.cluster.local with HTTP ports 80 (http) and 8080 (alt),
// both served by h, and a VirtualService sending x-subset: NAME to that subset of web.
func twoPortService(h *heldServer, subsets ...string) string {
	doc := webEntry(h.webEndpoint("app: web")) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
`
	for _, s := range subsets {
		doc += fmt.Sprintf("  - match: [{headers: {x-subset: {exact: %s}}}]\n    route: [{destination: {host: web, subset: %s}}]\n", s, s)
	}
	return doc + "  - route: [{destination: {host: web}}]\n---\n"
}

// portLevelSettings replace the top-level policy for their port only: port 8080's connection
// pool admits one request at a time while port 80, under the top-level pool, admits two.
func TestFeaturePortLevelSettings(t *testing.T) {
	h := startHeldServer(t, "web")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": twoPortService(h) + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 2}}
    portLevelSettings:
    - port: {number: 8080}
      connectionPool: {http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}}
`,
	})
	for _, c := range []struct {
		host string
		want int
	}{{"web", 2}, {"web:8080", 1}} {
		if got := admitted(t, m, h, c.host, nil, 4); got != c.want {
			t.Errorf("%s: %d concurrent requests admitted, want %d", c.host, got, c.want)
		}
	}
}

// A subset's policy is merged over the top-level one as Istio's MergeSubsetTrafficPolicy does:
// each side first resolves its own portLevelSettings for the cluster's port, then the subset's
// fields replace the top-level ones. A subset's portLevelSettings entry for a port replaces
// every field for that port, so fields it leaves out take the defaults, not the top level's.
func TestFeatureSubsetPortLevelSettings(t *testing.T) {
	h := startHeldServer(t, "web")
	m := startMesh(t, map[string]string{
		"policies/web.yaml": twoPortService(h, "inherit", "own", "lbonly") + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 2}}
    portLevelSettings:
    - port: {number: 8080}
      connectionPool: {http: {http2MaxRequests: 1}}
  subsets:
  - name: inherit
    labels: {app: web}
  - name: own
    labels: {app: web}
    trafficPolicy:
      connectionPool: {http: {http2MaxRequests: 3}}
      portLevelSettings:
      - port: {number: 8080}
        connectionPool: {http: {http2MaxRequests: 4}}
  - name: lbonly
    labels: {app: web}
    trafficPolicy:
      portLevelSettings:
      - port: {number: 8080}
        loadBalancer: {simple: RANDOM}
`,
	})
	const upTo = 6 // more than any limit set: reaching it means no limit applied
	for _, c := range []struct {
		host, subset string
		want         int
	}{
		{"web", "", 2},
		{"web:8080", "", 1},
		{"web", "inherit", 2},
		{"web:8080", "inherit", 1},
		{"web", "own", 3},
		{"web:8080", "own", 4},
		{"web", "lbonly", 2},
		{"web:8080", "lbonly", upTo},
	} {
		var headers map[string]string
		if c.subset != "" {
			headers = map[string]string{"x-subset": c.subset}
		}
		if got := admitted(t, m, h, c.host, headers, upTo); got != c.want {
			t.Errorf("%s subset %q: %d concurrent requests admitted, want %d", c.host, c.subset, got, c.want)
		}
	}
}

// connectionPool.tcp.connectTimeout bounds a connect that never completes: the request gets
// the 503 of a connect failure after about the timeout, not Envoy's default of seconds.
func TestFeatureConnectTimeout(t *testing.T) {
	addr := testnet.HangingAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	m := startMesh(t, map[string]string{
		"policies/stuck.yaml": serviceEntry("stuck", "stuck.default.svc.cluster.local",
			fmt.Sprintf("  - {address: %s, ports: {http: %s}}\n", host, port)) + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: stuck}
spec:
  host: stuck
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 200ms}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: stuck}
spec:
  hosts: [stuck]
  http:
  - retries: {attempts: 0}
    route: [{destination: {host: stuck}}]
`,
	})
	for i := range 2 {
		r := m.get("stuck", "/", nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("X-Envoy-Overloaded") != "" {
			t.Fatalf("request %d to an endpoint that never accepts: %d %q (overloaded %q), want 503 for a connect failure (after %v)",
				i, r.status, r.body, r.header.Get("X-Envoy-Overloaded"), r.elapsed)
		}
		if r.elapsed < 150*time.Millisecond || r.elapsed >= 3*time.Second {
			t.Fatalf("request %d: 503 after %v, want about the 200ms connect timeout", i, r.elapsed)
		}
	}
}

// procTCPConn is one IPv4 socket from /proc/net/tcp.
type procTCPConn struct {
	local, remote string // ip:port
	state         string // hex, 01 is ESTABLISHED
	timer         string // tr: 2 is the keepalive timer
	when          int64  // tm->when: clock ticks until the timer fires
	inode         string
}

func procNetTCP(t *testing.T) []procTCPConn {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("no /proc/net/tcp: %v", err)
	}
	addr := func(s string) string {
		ip, port, _ := strings.Cut(s, ":")
		b, _ := hex.DecodeString(ip)
		p, _ := strconv.ParseUint(port, 16, 16)
		if len(b) != 4 {
			return s
		}
		// The kernel prints the address's four bytes as one native-endian word.
		v := binary.BigEndian.Uint32(b)
		var out [4]byte
		binary.NativeEndian.PutUint32(out[:], v)
		return fmt.Sprintf("%d.%d.%d.%d:%d", out[0], out[1], out[2], out[3], p)
	}
	var conns []procTCPConn
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		tr, when, _ := strings.Cut(f[5], ":")
		w, _ := strconv.ParseInt(when, 16, 64)
		conns = append(conns, procTCPConn{local: addr(f[1]), remote: addr(f[2]), state: f[3], timer: tr, when: w, inode: f[9]})
	}
	return conns
}

// socketFD is this process's file descriptor for the socket with that inode: the proxy runs in
// the test's process, so its upstream sockets are among the test's own descriptors.
func socketFD(t *testing.T, inode string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, e := range ents {
		if link, _ := os.Readlink("/proc/self/fd/" + e.Name()); link == "socket:["+inode+"]" {
			fd, _ := strconv.Atoi(e.Name())
			return fd
		}
	}
	t.Fatalf("no descriptor of this process is socket %s", inode)
	return -1
}

func sysctlInt(t *testing.T, name string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// connectionPool.tcp.tcpKeepalive reaches the proxy's upstream socket as Envoy sets it: keep-alive
// on, with the idle time, interval and probe count given, and the system's own values for those
// left out. The socket is found in /proc/net/tcp by its peer, the backend; its keep-alive timer
// must be running within the idle time, and the socket's options, read from the proxy's own
// descriptor for it, must hold the values.
func TestFeatureTCPKeepalive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the proxy's sockets through Linux's /proc")
	}
	// Linux's option numbers, spelt out so the file builds where syscall lacks them.
	const tcpKeepIdle, tcpKeepIntvl, tcpKeepCnt = 4, 5, 6
	full, partial, plain := startConnCounter(t), startConnCounter(t), startConnCounter(t)
	m := startMesh(t, map[string]string{
		"policies/full.yaml":    pooledService("full", full, "tcp: {tcpKeepalive: {time: 7s, interval: 3s, probes: 4}}"),
		"policies/partial.yaml": pooledService("partial", partial, "tcp: {tcpKeepalive: {time: 5s}}"),
		// Without tcpKeepalive Envoy sets none: neither do the proxy's sockets.
		"policies/plain.yaml": pooledService("plain", plain, ""),
	})
	for _, c := range []struct {
		host                   string
		backend                *connCounter
		idle, interval, probes int // idle 0: keep-alive off
	}{
		{"full", full, 7, 3, 4},
		{"partial", partial, 5, sysctlInt(t, "tcp_keepalive_intvl"), sysctlInt(t, "tcp_keepalive_probes")},
		{"plain", plain, 0, 0, 0},
	} {
		if r := m.get(c.host, "/", nil); r.status != http.StatusOK {
			t.Fatalf("%s: %d", c.host, r.status)
		}
		var upstream []procTCPConn
		for _, pc := range procNetTCP(t) {
			if pc.remote == c.backend.addr && pc.state == "01" {
				upstream = append(upstream, pc)
			}
		}
		if len(upstream) != 1 {
			t.Fatalf("%s: %d established connections to the backend %s in /proc/net/tcp, want the proxy's one", c.host, len(upstream), c.backend.addr)
		}
		pc := upstream[0]
		if c.idle == 0 {
			fd := socketFD(t, pc.inode)
			if got, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); err != nil || got != 0 || pc.timer == "02" {
				t.Errorf("%s: upstream socket %s has SO_KEEPALIVE %d (%v), timer %s, want keep-alive off", c.host, pc.local, got, err, pc.timer)
			}
			continue
		}
		// tm->when is in USER_HZ ticks, 100 a second on every Linux architecture Go supports.
		if pc.timer != "02" || pc.when <= 0 || pc.when > int64(c.idle)*100 {
			t.Errorf("%s: upstream socket %s timer %s due in %d ticks, want the keepalive timer (02) within %ds",
				c.host, pc.local, pc.timer, pc.when, c.idle)
		}
		fd := socketFD(t, pc.inode)
		for _, o := range []struct {
			name       string
			level, opt int
			want       int
		}{
			{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
			{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, tcpKeepIdle, c.idle},
			{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, tcpKeepIntvl, c.interval},
			{"TCP_KEEPCNT", syscall.IPPROTO_TCP, tcpKeepCnt, c.probes},
		} {
			got, err := syscall.GetsockoptInt(fd, o.level, o.opt)
			if err != nil {
				t.Fatalf("%s: getsockopt %s: %v", c.host, o.name, err)
			}
			if got != o.want {
				t.Errorf("%s: upstream socket %s has %s %d, want %d", c.host, pc.local, o.name, got, o.want)
			}
		}
	}
}
