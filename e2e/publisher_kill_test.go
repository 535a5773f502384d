package e2e

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
)

// A proxy outlives its publisher: traffic through it keeps flowing with zero failed requests
// while the publisher is killed (every connection cut, nothing drained) and restarted, and
// the proxy re-syncs with the restarted publisher and follows the next commit.
func TestProxySurvivesPublisherKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mesh := newReviewsMesh(t)
	repo, commit := mesh.repo, mesh.commit
	first := commit(allV1, "reviews: all traffic to v1")
	state := t.TempDir()
	pub := startPublisher(t, publisher.Config{Repo: repo.Dir, StateDir: state})
	px := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "sidecar-1",
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go px.Run(ctx)
	if _, err := demo.AwaitSync(ctx, pub.Publisher, first, "sidecar-1"); err != nil {
		t.Fatal(err)
	}
	addr := px.ListenerAddr(demo.SidecarListener)
	if addr == "" {
		t.Fatal("proxy has no sidecar listener")
	}

	// Traffic runs through the proxy for the whole outage, in bounded batches.
	var sent, failed atomic.Int64
	var last atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := demo.NewClient()
		for i := 0; i < 2000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s := demo.Send(ctx, client, addr, "reviews:9080", "/", 10, nil)
			sent.Add(int64(s.Total))
			failed.Add(int64(s.Failed))
			last.Store(s)
		}
	}()

	time.Sleep(100 * time.Millisecond)
	pub.kill(t)
	time.Sleep(300 * time.Millisecond) // the proxy is on its own: retrying, still serving
	during := sent.Load()
	again := startPublisher(t, publisher.Config{Repo: repo.Dir, StateDir: state, XDSAddr: pub.XDSAddr()})
	if _, err := demo.AwaitSync(ctx, again.Publisher, first, "sidecar-1"); err != nil {
		t.Fatalf("the proxy did not re-sync with the restarted publisher: %v", err)
	}
	second := commit(canary, "reviews: canary 80/20")
	if err := again.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.AwaitSync(ctx, again.Publisher, second, "sidecar-1"); err != nil {
		t.Fatalf("the proxy did not follow a commit after the restart: %v", err)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || during == 0 {
		t.Errorf("%d of %d requests failed across the publisher kill (%d sent by the restart); last batch %v",
			failed.Load(), sent.Load(), during, last.Load())
	}
}
