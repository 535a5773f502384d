package xdsbench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkFanOut times a one-route commit until every client has ACKed it, for the publisher
// and for go-control-plane's SnapshotCache. Larger runs: signalbox bench xds.
func BenchmarkFanOut(b *testing.B) {
	for _, baseline := range []bool{false, true} {
		for _, d := range []bool{false, true} {
			for _, n := range []int{100, 1000} {
				cfg := Config{Clients: n, Services: 100, Rounds: 1, Delta: d, Baseline: baseline}
				r := Result{Config: cfg}
				b.Run(fmt.Sprintf("%s/%s/clients=%d", r.Server(), r.Mode(), n), func(b *testing.B) {
					var all Result
					for b.Loop() {
						res, err := Run(context.Background(), cfg)
						if err != nil {
							b.Fatal(err)
						}
						all.PublishToSync = append(all.PublishToSync, res.PublishToSync...)
						all.HeapPerClient, all.ChangeBytes, all.FullPushBytes = res.HeapPerClient, res.ChangeBytes, res.FullPushBytes
					}
					b.ReportMetric(float64(Quantile(all.PublishToSync, 0.5))/float64(time.Millisecond), "ms-publish-to-sync")
					b.ReportMetric(float64(all.HeapPerClient), "heap-B/client")
					b.ReportMetric(all.ChangeBytes, "change-B/client")
					b.ReportMetric(all.FullPushBytes, "full-B/client")
				})
			}
		}
	}
}

// TestFanOutSmall keeps the harness working: a few clients of each kind converge. A one-route
// change sends the publisher's delta clients, and its SotW clients naming their routes, the
// changed RouteConfiguration only: a few percent of a full push at 10 services.
func TestFanOutSmall(t *testing.T) {
	for _, baseline := range []bool{false, true} {
		for _, d := range []bool{false, true} {
			for _, byName := range []bool{false, true} {
				res, err := Run(context.Background(), Config{Clients: 5, Services: 10, Rounds: 2, Delta: d, ByName: byName,
					Baseline: baseline, Timeout: 20 * time.Second})
				if err != nil {
					t.Fatalf("%s/%s: %v", res.Server(), res.Mode(), err)
				}
				if res.ChangeBytes <= 0 || res.ChangeBytes >= res.FullPushBytes {
					t.Errorf("%s/%s: a one-route change sent %.0f B per client, a full push %.0f B", res.Server(), res.Mode(), res.ChangeBytes, res.FullPushBytes)
				}
				if !baseline && (d || byName) && res.ChangeBytes*20 > res.FullPushBytes {
					t.Errorf("%s/%s: a one-route change sent %.0f B per client, over 5%% of a full push (%.0f B)", res.Server(), res.Mode(), res.ChangeBytes, res.FullPushBytes)
				}
			}
		}
	}
}
