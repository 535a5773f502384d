package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
)

// BenchmarkCommitToProxyInSync times one policy change from a new commit on the branch to the
// proxy having ACKed its version: fetch, compile, publish, push, apply, ACK. The commit itself
// is made outside the timer.
func BenchmarkCommitToProxyInSync(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			repo, err := demo.InitRepo(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			write := func(weight int) string {
				for _, f := range gen.Tree(n, 10) {
					if err := repo.WriteFile("policies/"+f.Path, f.Data); err != nil {
						b.Fatal(err)
					}
				}
				// One route changes per commit: service 0's canary weight.
				if err := repo.WriteFile("policies/services/svc-00000.yaml", []byte(gen.Service(0, weight))); err != nil {
					b.Fatal(err)
				}
				sha, err := repo.Commit(fmt.Sprintf("svc-00000: canary %d%%", weight))
				if err != nil {
					b.Fatal(err)
				}
				return sha
			}
			first := write(10)
			pub, err := publisher.New(publisher.Config{Repo: repo.Dir, Branch: "main", Dir: "policies", Poll: time.Hour,
				XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			if err := pub.Start(ctx); err != nil {
				b.Fatal(err)
			}
			px := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "bench", Rebind: func(string) string { return "127.0.0.1:0" }, Logger: quiet})
			go px.Run(ctx)
			if _, err := demo.AwaitSync(ctx, pub, first, "bench"); err != nil {
				b.Fatal(err)
			}
			weight := 10
			for b.Loop() {
				b.StopTimer()
				weight = weight%90 + 1
				sha := write(weight)
				b.StartTimer()
				if err := pub.Sync(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := demo.AwaitSync(ctx, pub, sha, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
