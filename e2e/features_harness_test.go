package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
)

// The feature tests run each Istio traffic feature through the whole chain: a policy tree
// committed to a real git repository, the publisher compiling and serving it, the Go proxy
// following it, and real HTTP backends behind it.

// echoed is what an echo backend answers: who it is and the request it saw.
type echoed struct {
	Name    string      `json:"name"`
	Method  string      `json:"method"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Headers http.Header `json:"headers"`
}

// echoServer is an HTTP backend on 127.0.0.1:0 that answers with what it received. Behave,
// when set, may answer instead (a status, a delay): it returns false to let the echo answer.
type echoServer struct {
	name string
	addr string
	hits atomic.Int64

	mu     sync.Mutex
	seen   []echoed
	behave func(n int64, w http.ResponseWriter, r *http.Request) bool
}

func startEchoServer(t *testing.T, name string) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{name: name, addr: ln.Addr().String()}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := e.hits.Add(1)
	io.Copy(io.Discard, r.Body)
	got := echoed{Name: e.name, Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Headers: r.Header}
	e.mu.Lock()
	e.seen = append(e.seen, got)
	behave := e.behave
	e.mu.Unlock()
	if behave != nil && behave(n, w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Backend", e.name)
	json.NewEncoder(w).Encode(got)
}

func (e *echoServer) setBehave(f func(n int64, w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.behave = f
	e.mu.Unlock()
}

func (e *echoServer) requests() []echoed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]echoed(nil), e.seen...)
}

// hostPort splits the backend's address for a ServiceEntry endpoint.
func (e *echoServer) hostPort() (string, string) {
	h, p, _ := strings.Cut(e.addr, ":")
	return h, p
}

// endpoint is a ServiceEntry endpoint line for this backend, its port named "http".
func (e *echoServer) endpoint(labels string) string {
	h, p := e.hostPort()
	return fmt.Sprintf("  - {address: %s, ports: {http: %s}, labels: {%s}}\n", h, p, labels)
}

// meshEnv is one running chain: repository, publisher, and a sidecar proxy in sync with it.
type meshEnv struct {
	t      *testing.T
	ctx    context.Context
	repo   interface{ WriteFile(string, []byte) error }
	pub    *publisher.Publisher
	px     *proxy.Proxy
	addr   string // the sidecar listener's bound address
	client *http.Client
}

// startMesh commits files (paths under policies/) and runs the chain until the proxy applied
// that commit. The proxy listens as the sidecar on the tree's outbound listener.
func startMesh(t *testing.T, files map[string]string) *meshEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	repo, err := demo.InitRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar listener every test binds, ahead of any other setting a test gives.
	files["policies/signalbox.yaml"] = "sidecarListener: 127.0.0.1:15001\n" + files["policies/signalbox.yaml"]
	for p, data := range files {
		if err := repo.WriteFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	sha, err := repo.Commit("features")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.New(publisher.Config{Repo: repo.Dir, Branch: "main", Dir: "policies", Poll: time.Hour,
		XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pub.Status(); st.LastError != nil {
		t.Fatalf("publisher refused the tree: %s", st.LastError.Message)
	}
	px := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "sidecar-1", Labels: map[string]string{"app": "client"},
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: quiet})
	go px.Run(ctx)
	if _, err := demo.AwaitSync(ctx, pub, sha, "sidecar-1"); err != nil {
		t.Fatalf("proxy never applied the tree: %v", err)
	}
	env := &meshEnv{t: t, ctx: ctx, repo: repo, pub: pub, px: px, client: &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	env.addr = px.ListenerAddr(demo.SidecarListener)
	if env.addr == "" {
		t.Fatalf("proxy has no listener %s", demo.SidecarListener)
	}
	return env
}

// reply is one response through the proxy.
type reply struct {
	status  int
	header  http.Header
	body    string
	echo    echoed // decoded when a backend answered
	elapsed time.Duration
}

// do sends one request through the sidecar with the given Host header.
func (m *meshEnv) do(method, host, path string, headers map[string]string) reply {
	m.t.Helper()
	r, err := m.try(method, host, path, headers)
	if err != nil {
		m.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	return r
}

// try is do for other goroutines than the test's: it reports errors instead of failing the
// test.
func (m *meshEnv) try(method, host, path string, headers map[string]string) (reply, error) {
	req, err := http.NewRequestWithContext(m.ctx, method, "http://"+m.addr+path, nil)
	if err != nil {
		return reply{}, err
	}
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := m.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(body), elapsed: time.Since(start)}
	if resp.Header.Get("X-Backend") != "" {
		json.Unmarshal(body, &r.echo)
	}
	return r, nil
}

func (m *meshEnv) get(host, path string, headers map[string]string) reply {
	m.t.Helper()
	return m.do(http.MethodGet, host, path, headers)
}

// serviceEntry declares host with port 80 named http and the given endpoint lines.
func serviceEntry(name, host string, endpoints ...string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s}
spec:
  hosts: [%s]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
%s`, name, host, strings.Join(endpoints, ""))
}

// webEntry declares web.default.svc.cluster.local with two HTTP ports, 80 (http) and 8080
// (alt), and the given endpoint lines (webEndpoint).
func webEntry(endpoints ...string) string {
	return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 8080, name: alt, protocol: HTTP}
  resolution: STATIC
  endpoints:
` + strings.Join(endpoints, "")
}

// webEndpoint is a webEntry endpoint line for e, serving both ports, with labels ("k: v, …").
func (e *echoServer) webEndpoint(labels string) string {
	h, p := e.hostPort()
	return fmt.Sprintf("  - {address: %s, ports: {http: %s, alt: %s}, labels: {%s}}\n", h, p, p, labels)
}

// ingressGateway is a Gateway named public, selecting istio=ingressgateway, with one plain
// HTTP server on port 80 for hosts.
func ingressGateway(hosts string) string {
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [` + hosts + `]
`
}

// shopBehindGateway is the shop.example.com service on shop's endpoint, exposed on port 80 of
// the ingress gateway (ingressGateway) by a VirtualService routing everything to it.
func shopBehindGateway(shop *echoServer) string {
	return serviceEntry("shop", "shop.example.com", shop.endpoint("app: shop")) + `---
` + ingressGateway("shop.example.com") + `---
` + gatewayRoute("shop", "shop.example.com")
}

// gatewayRoute is a VirtualService NAME sending every request for host, at the Gateway
// "public", to the service of that host.
func gatewayRoute(name, host string) string {
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ` + name + `}
spec:
  hosts: [` + host + `]
  gateways: [public]
  http:
  - route: [{destination: {host: ` + host + `}}]
`
}

// startGateway runs a second proxy on the mesh's publisher with labels that select a Gateway,
// until it has applied the mesh's commit; its listeners bind loopback ports of their own.
func startGateway(t *testing.T, m *meshEnv, labels map[string]string) *proxy.Proxy {
	t.Helper()
	gw := proxy.New(proxy.Options{XDSAddr: m.pub.XDSAddr(), NodeID: "gateway-1", Labels: labels,
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go gw.Run(m.ctx)
	if _, err := demo.AwaitSync(m.ctx, m.pub, m.pub.Status().Commit, "gateway-1"); err != nil {
		t.Fatalf("gateway never applied the tree: %v", err)
	}
	return gw
}
