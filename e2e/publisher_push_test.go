package e2e

import (
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/publisher"
	"github.com/signalbox/signalbox/publisher/xdsbench"
)

// A commit that changes one route is pushed as routes only: a SotW client gets one route
// response and nothing of the other types, a delta client gets the one RouteConfiguration
// that changed.
func TestRouteOnlyCommitPushesRoutesOnly(t *testing.T) {
	repo, _ := defaultRepo(t)
	pub := startPublisher(t, publisher.Config{Repo: repo.Dir})
	sotw := follow(t, &xdsbench.Client{NodeID: "sotw"}, pub.XDSAddr())
	delta := follow(t, &xdsbench.Client{NodeID: "delta", Delta: true}, pub.XDSAddr())
	eventually(t, "both clients in sync", func() bool { return inSync(pub.Publisher, "sotw") && inSync(pub.Publisher, "delta") })
	before := map[string]xdsbench.Stats{"sotw": sotw.Stats(), "delta": delta.Stats()}

	sha := commitReviewsAllToV2(t, repo)
	if err := pub.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if pub.Status().Commit != sha {
		t.Fatalf("commit %s not published: %+v", sha, pub.Status().LastError)
	}
	eventually(t, "both clients in sync again", func() bool { return inSync(pub.Publisher, "sotw") && inSync(pub.Publisher, "delta") })
	time.Sleep(50 * time.Millisecond)

	// The first publish had no proxy to wait for; the route-only one converged once.
	resp, err := http.Get("http://" + pub.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"signalbox_convergence_seconds_count 1", "signalbox_connected_proxies 2", "signalbox_compile_duration_seconds_count 2"} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	for name, c := range map[string]*benchClient{"sotw": sotw, "delta": delta} {
		after, was := c.Stats(), before[name]
		got := map[string]int{}
		for _, typ := range compiler.ResourceTypes {
			if d := after.Responses[typ] - was.Responses[typ]; d != 0 {
				got[typ] = d
			}
		}
		if want := map[string]int{resource.RouteType: 1}; !maps.Equal(got, want) {
			t.Errorf("%s: responses per type after a route-only commit: %v, want %v", name, got, want)
		}
		if name == "delta" && after.Resources-was.Resources != 1 {
			t.Errorf("delta: %d resources sent for one changed route configuration", after.Resources-was.Resources)
		}
	}
}

// commitReviewsAllToV2 commits the default policies' reviews route moved from v1 to v2, a
// change of one route table, and returns the commit.
func commitReviewsAllToV2(t *testing.T, repo *demo.Repo) string {
	t.Helper()
	reviews, err := os.ReadFile(filepath.Join(repo.Dir, "policies", "reviews.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(reviews), "subset: v1\n      weight: 100", "subset: v2\n      weight: 100", 1)
	if changed == string(reviews) {
		t.Fatal("the default reviews.yaml no longer has the route this test edits")
	}
	if err := repo.WriteFile("policies/reviews.yaml", []byte(changed)); err != nil {
		t.Fatal(err)
	}
	sha, err := repo.Commit("reviews: all to v2")
	if err != nil {
		t.Fatal(err)
	}
	return sha
}
