package e2e

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

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

// The same as separate processes, as issue 5 asks: `signalbox serve` is sent SIGKILL in the
// middle of a bounded stream of requests through the proxy, none of which may fail; restarted
// on the same --state-dir it serves the same version at once, so the reconnecting proxy ACKs
// it and is pushed nothing; the next commit then reaches the proxy.
func TestProxySurvivesPublisherSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the signalbox binary")
	}
	const total, batch = 2000, 10
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mesh := newReviewsMesh(t)
	first := mesh.commit(allV1, "reviews: all traffic to v1")
	state := t.TempDir()
	pub := startServe(t, mesh.repo.Dir, state, "127.0.0.1:0")
	version := pub.awaitStatus(t, "the first commit published", func(st publisher.Status) bool { return st.Commit == first }).Version

	px := proxy.New(proxy.Options{XDSAddr: pub.xds, NodeID: "sidecar-1",
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go px.Run(ctx)
	acked := proxyOf(pub.awaitStatus(t, "the proxy in sync", func(st publisher.Status) bool {
		return proxyAt(st, "sidecar-1", version)
	}), "sidecar-1").Acked
	if pushes := pub.pushes(t); pushes[resource.ListenerType] == 0 || pushes[resource.ClusterType] == 0 {
		t.Fatalf("signalbox_pushes_total counts no listener or cluster push to the proxy that just synced: %v", pushes)
	}
	addr := px.ListenerAddr(demo.SidecarListener)

	// total requests in batches, paced over about three seconds; the publisher dies after
	// the first quarter.
	var sent, failed atomic.Int64
	quarter := make(chan struct{})
	traffic := make(chan demo.Split, 1)
	go func() {
		client := demo.NewClient()
		all := demo.Split{Counts: map[string]int{}}
		for i := 0; i < total/batch && ctx.Err() == nil; i++ {
			s := demo.Send(ctx, client, addr, "reviews:9080", "/", batch, nil)
			all.Total += s.Total
			all.Failed += s.Failed
			for k, v := range s.Counts {
				all.Counts[k] += v
			}
			sent.Add(int64(s.Total))
			failed.Add(int64(s.Failed))
			if i == total/batch/4 {
				close(quarter)
			}
			time.Sleep(15 * time.Millisecond)
		}
		traffic <- all
	}()
	<-quarter
	pub.signal(syscall.SIGKILL)
	killedAt := sent.Load()
	time.Sleep(200 * time.Millisecond) // the proxy on its own, reconnecting, still serving

	again := startServe(t, mesh.repo.Dir, state, pub.xds)
	restartedAt := sent.Load()
	st := again.awaitStatus(t, "the proxy back in sync with the restarted publisher", func(st publisher.Status) bool {
		return proxyAt(st, "sidecar-1", version)
	})
	if st.Version != version {
		t.Fatalf("restarted on the same state dir the publisher serves %s, want %s", st.Version, version)
	}
	if got := proxyOf(st, "sidecar-1").Acked; !maps.Equal(got, acked) {
		t.Errorf("after the restart the proxy ACKs %v, before the kill it ACKed %v", got, acked)
	}
	// The proxy resumes with the versions it has, so nothing of any type is sent again.
	time.Sleep(100 * time.Millisecond) // anything the restart would push arrives well within this
	for typ, n := range again.pushes(t) {
		if n != 0 {
			t.Errorf("the restarted publisher pushed %d %s responses to a proxy that already had its version", n, typ)
		}
	}

	all := <-traffic
	t.Logf("%d requests, %d failed; the publisher was killed after %d and restarted after %d", all.Total, all.Failed, killedAt, restartedAt)
	if all.Total != total || all.Failed != 0 || killedAt == restartedAt {
		t.Errorf("%d of %d requests failed across the SIGKILL (%d sent at the kill, %d at the restart): %v",
			all.Failed, all.Total, killedAt, restartedAt, all)
	}

	second := mesh.commit(canary, "reviews: canary 80/20")
	again.awaitStatus(t, "the commit after the restart on the proxy", func(st publisher.Status) bool {
		return st.Commit == second && st.Version != version && proxyAt(st, "sidecar-1", st.Version)
	})
	if s := demo.Send(ctx, demo.NewClient(), addr, "reviews:9080", "/", 100, nil); s.Failed != 0 || s.Counts["reviews v2"] == 0 {
		t.Errorf("after the canary commit: %v, want some to reviews v2", s)
	}
}
