package e2e

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/policies"
	"github.com/signalbox/signalbox/publisher"
	"github.com/signalbox/signalbox/publisher/xdsbench"
)

// runningPublisher is a publisher that a test can kill and bring back on the same addresses.
type runningPublisher struct {
	*publisher.Publisher
	cancel context.CancelFunc
}

// kill stops the publisher abruptly: every xDS connection is cut, no stream is drained.
func (r *runningPublisher) kill(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("publisher did not stop")
	}
}

func startPublisher(t *testing.T, cfg publisher.Config) *runningPublisher {
	t.Helper()
	if cfg.XDSAddr == "" {
		cfg.XDSAddr = "127.0.0.1:0"
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	cfg.Poll = time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := publisher.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// A restart on the port just released can race the kernel; retry briefly.
	for i := 0; ; i++ {
		if err = p.Start(ctx); err == nil || i == 50 {
			break
		}
		p, _ = publisher.New(cfg)
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &runningPublisher{Publisher: p, cancel: cancel}
	t.Cleanup(func() { cancel(); <-p.Done() })
	return r
}

// defaultRepo is a real repository holding the default policies.
func defaultRepo(t *testing.T) (*demo.Repo, string) {
	t.Helper()
	repo, err := demo.InitRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CopyFS(policies.FS, "policies"); err != nil {
		t.Fatal(err)
	}
	sha, err := repo.Commit("policies: default")
	if err != nil {
		t.Fatal(err)
	}
	return repo, sha
}

// benchClient runs an xdsbench client (which resumes with the versions it holds) on its own
// connection to addr until stop is called.
type benchClient struct {
	*xdsbench.Client
	stop func()
}

func follow(t *testing.T, c *xdsbench.Client, addr string) *benchClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, append(xdsbench.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx, conn) }()
	stop := sync.OnceFunc(func() { cancel(); wg.Wait(); conn.Close() })
	t.Cleanup(stop)
	return &benchClient{Client: c, stop: stop}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func inSync(p *publisher.Publisher, node string) bool {
	st := p.Status()
	for _, px := range st.Proxies {
		if px.NodeID == node {
			return px.Connected && px.InSync
		}
	}
	return false
}

// A publisher restarted on the same state dir and branch tip serves the same version, and a
// proxy connected across the restart (SotW and delta) is sent no resource again.
func TestPublisherRestartSendsNothingNew(t *testing.T) {
	repo, _ := defaultRepo(t)
	state := t.TempDir()
	first := startPublisher(t, publisher.Config{Repo: repo.Dir, StateDir: state})
	addr := first.XDSAddr()
	version := first.Status().Version

	sotw := follow(t, &xdsbench.Client{NodeID: "sotw"}, addr)
	delta := follow(t, &xdsbench.Client{NodeID: "delta", Delta: true}, addr)
	eventually(t, "both clients in sync", func() bool { return inSync(first.Publisher, "sotw") && inSync(first.Publisher, "delta") })
	before := map[string]xdsbench.Stats{"sotw": sotw.Stats(), "delta": delta.Stats()}

	first.kill(t)
	second := startPublisher(t, publisher.Config{Repo: repo.Dir, StateDir: state, XDSAddr: addr})
	if v := second.Status().Version; v != version {
		t.Fatalf("restarted publisher serves %s, want %s", v, version)
	}
	eventually(t, "both clients back and in sync", func() bool {
		return inSync(second.Publisher, "sotw") && inSync(second.Publisher, "delta") &&
			sotw.Stats().Streams == 2 && delta.Stats().Streams == 2
	})
	time.Sleep(100 * time.Millisecond) // anything the restart would send arrives well within this
	for name, c := range map[string]*benchClient{"sotw": sotw, "delta": delta} {
		if got, was := c.Stats().Resources, before[name].Resources; got != was {
			t.Errorf("%s client was sent %d resources after the restart", name, got-was)
		}
	}
}

// Two publishers following the same repository serve identical versions: a proxy that moves
// from one to the other is sent nothing.
func TestProxyMovesBetweenReplicas(t *testing.T) {
	repo, _ := defaultRepo(t)
	a := startPublisher(t, publisher.Config{Repo: repo.Dir})
	b := startPublisher(t, publisher.Config{Repo: repo.Dir})
	if va, vb := a.Status().Version, b.Status().Version; va != vb || va == "" {
		t.Fatalf("replicas serve %q and %q", va, vb)
	}
	for _, mode := range []bool{false, true} {
		c := &xdsbench.Client{NodeID: "mover", Delta: mode}
		on := follow(t, c, a.XDSAddr())
		eventually(t, "the proxy in sync on replica a", func() bool { return inSync(a.Publisher, "mover") })
		was := c.Stats().Resources
		on.stop()
		follow(t, c, b.XDSAddr())
		eventually(t, "the proxy in sync on replica b", func() bool { return inSync(b.Publisher, "mover") })
		time.Sleep(100 * time.Millisecond)
		if got := c.Stats().Resources; got != was {
			t.Errorf("delta=%t: moving to the other replica sent %d resources", mode, got-was)
		}
	}
}
