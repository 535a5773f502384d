package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
)

const requests = 1000

// mesh is one service, reviews, with three workloads on ephemeral loopback ports.
func meshFiles(backends []*demo.Backend, route string) map[string]string {
	var eps strings.Builder
	for _, b := range backends {
		host, port, _ := strings.Cut(b.Addr, ":")
		fmt.Fprintf(&eps, "  - address: %s\n    ports: {http: %s}\n    labels: {app: reviews, version: %s}\n", host, port, b.Version)
	}
	return map[string]string{
		"policies/signalbox.yaml": "sidecarListener: 127.0.0.1:15001\n",
		"policies/services.yaml": `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: reviews
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
` + eps.String() + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`,
		"policies/reviews.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
` + route,
	}
}

const allV1 = `    - destination: {host: reviews, subset: v1}
`

const canary = `    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 20
`

const negativeWeight = `    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: -20
`

func TestCommitRoutesTrafficAndRevertRestoresVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	mesh := newReviewsMesh(t)
	repo, commit := mesh.repo, mesh.commit
	first := commit(allV1, "reviews: all traffic to v1")

	pub, err := publisher.New(publisher.Config{Repo: repo.Dir, Branch: "main", Dir: "policies", Poll: time.Hour,
		XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	px := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "sidecar-1", Labels: map[string]string{"app": "productpage"},
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: quiet})
	go px.Run(ctx)
	client := demo.NewClient()

	sync := func(sha string) string {
		t.Helper()
		if err := pub.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := demo.AwaitSync(ctx, pub, sha, "sidecar-1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	send := func() demo.Split {
		t.Helper()
		addr := px.ListenerAddr(demo.SidecarListener)
		if addr == "" {
			t.Fatalf("proxy has no listener %s", demo.SidecarListener)
		}
		return demo.Send(ctx, client, addr, "reviews:9080", "/", requests, nil)
	}

	v1 := sync(first)
	if s := send(); s.Failed != 0 || s.Counts["reviews v1"] != requests {
		t.Fatalf("all-v1 tree: want %d requests on v1, got %s", requests, s)
	}

	second := commit(canary, "reviews: canary 80/20")
	v2 := sync(second)
	if v2 == v1 {
		t.Fatalf("canary commit kept version %s", v1)
	}
	checkCanary := func(when string) {
		t.Helper()
		s := send()
		if s.Failed != 0 || math.Abs(s.Share("reviews v1")-0.8) > 0.06 || s.Counts["reviews v1"]+s.Counts["reviews v2"] != requests {
			t.Fatalf("%s: want 80±6%% on v1 and the rest on v2, got %s", when, s)
		}
	}
	checkCanary("after the canary commit")

	bad := commit(negativeWeight, "reviews: negative weight")
	if err := pub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := pub.Status()
	if st.Version != v2 || st.Commit != second {
		t.Fatalf("invalid commit changed what is served: version %s commit %s", st.Version, st.Commit)
	}
	if st.LastError == nil || st.LastError.Commit != bad || !strings.Contains(st.LastError.Message, "policies/reviews.yaml:") &&
		!strings.Contains(st.LastError.Message, "reviews.yaml:") {
		t.Fatalf("last_error should name commit %s and a positioned reviews.yaml finding, got %+v", bad, st.LastError)
	}
	checkCanary("after the invalid commit")

	revertBad, err := repo.Revert(bad)
	if err != nil {
		t.Fatal(err)
	}
	if v := sync(revertBad); v != v2 {
		t.Fatalf("reverting the invalid commit: version %s, want %s", v, v2)
	}
	revertCanary, err := repo.Revert(second)
	if err != nil {
		t.Fatal(err)
	}
	if v := sync(revertCanary); v != v1 {
		t.Fatalf("reverting the canary: version %s, want the first version %s", v, v1)
	}
	if s := send(); s.Failed != 0 || s.Counts["reviews v1"] != requests {
		t.Fatalf("after the revert: want all %d requests on v1, got %s", requests, s)
	}
}
