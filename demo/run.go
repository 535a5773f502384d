package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/signalbox/signalbox/policies"
	"github.com/signalbox/signalbox/proxy"
	"github.com/signalbox/signalbox/publisher"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// Requests is how many requests each step of the demo sends.
const Requests = 200

// Run plays the default policies end to end on loopback and narrates to out: publish, route,
// canary, an invalid commit that is refused, and a revert that brings the first version back.
func Run(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "signalbox-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	repo, err := InitRepo(dir)
	if err != nil {
		return err
	}
	if err := repo.CopyFS(policies.FS, "policies"); err != nil {
		return err
	}
	first, err := repo.Commit("policies: the default bookinfo mesh")
	if err != nil {
		return err
	}

	files, err := source.ReadDir(dir + "/policies")
	if err != nil {
		return err
	}
	tree, findings := schema.Load(files)
	if schema.HasErrors(findings) {
		return fmt.Errorf("the default policies do not validate:\n%s", joinFindings(findings))
	}
	backends := Workloads(tree)
	for _, b := range backends {
		if err := b.Start(); err != nil {
			return err
		}
		defer b.Close()
	}
	fmt.Fprintf(out, "backends:  ")
	for _, b := range backends {
		fmt.Fprintf(out, "%s-%s@%s ", b.App, b.Version, b.Addr)
	}
	fmt.Fprintln(out)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub, err := publisher.New(publisher.Config{Repo: dir, Branch: "main", Dir: "policies", Poll: time.Hour,
		XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		return err
	}
	if err := pub.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "publisher: xds %s, admin http://%s/status\n", pub.XDSAddr(), pub.AdminAddr())

	px := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "demo-sidecar", Labels: map[string]string{"app": "demo"},
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: quiet})
	go px.Run(ctx)

	s := &step{ctx: ctx, out: out, pub: pub, px: px, client: NewClient()}
	v1, err := s.await(first)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "proxy:     sidecar listening on %s\n", s.listener())

	ingress := proxy.New(proxy.Options{XDSAddr: pub.XDSAddr(), NodeID: "demo-ingress", Labels: map[string]string{"istio": "ingressgateway"},
		Rebind: func(string) string { return "127.0.0.1:0" }, Logger: quiet})
	go ingress.Run(ctx)
	if _, err := AwaitSync(ctx, pub, first, "demo-ingress"); err != nil {
		return err
	}
	gw, err := awaitListener(ctx, ingress, IngressListener)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "proxy:     ingress gateway (istio=ingressgateway) listening on %s\n\n", gw)
	split := Send(ctx, s.client, gw, "bookinfo.example.com", "/productpage", Requests, nil)
	fmt.Fprintf(out, "commit %s  version %s  %d requests to the ingress, /productpage\n  %s\n", first[:7], v1, Requests, split)
	code, err := statusOf(ctx, s.client, gw, "bookinfo.example.com", "/admin")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  /admin is not routed by the gateway: HTTP %d\n\n", code)
	s.report(first, v1, "reviews", nil)
	s.report(first, v1, "reviews (end-user: jason)", map[string]string{"end-user": "jason"})

	canary := strings.Replace(reviewsVS, "WEIGHTS", canaryWeights, 1)
	if err := repo.WriteFile("policies/reviews.yaml", []byte(canary)); err != nil {
		return err
	}
	c2, err := repo.Commit("reviews: canary, 20% of traffic to v3")
	if err != nil {
		return err
	}
	v2, err := s.await(c2)
	if err != nil {
		return err
	}
	s.report(c2, v2, "reviews", nil)

	if err := repo.WriteFile("policies/reviews.yaml", []byte(strings.Replace(canary, "weight: 20", "weight: -20", 1))); err != nil {
		return err
	}
	bad, err := repo.Commit("reviews: a typo, a negative weight")
	if err != nil {
		return err
	}
	if err := pub.Sync(ctx); err != nil {
		return err
	}
	st := pub.Status()
	fmt.Fprintf(out, "commit %s  %q\n  refused, still serving %s; last_error:\n    %s\n\n", bad[:7], "reviews: a typo, a negative weight",
		st.Version, strings.ReplaceAll(lastErrorMessage(st), "\n", "\n    "))
	if st.Version != v2 {
		return fmt.Errorf("an invalid commit changed the version: %s -> %s", v2, st.Version)
	}

	for _, sha := range []string{bad, c2} {
		r, err := repo.Revert(sha)
		if err != nil {
			return err
		}
		v, err := s.await(r)
		if err != nil {
			return err
		}
		if sha == c2 {
			s.report(r, v, "reviews", nil)
			same := "the same version as the first commit"
			if v != v1 {
				same = "NOT the first version " + v1
			}
			fmt.Fprintf(out, "version %s after the revert: %s\n", v, same)
			if v != v1 {
				return fmt.Errorf("revert did not restore version %s", v1)
			}
		}
	}
	return nil
}

const canaryWeights = `      weight: 80
    - destination:
        host: reviews
        subset: v3
      weight: 20`

// reviewsVS is policies/reviews.yaml with the default route's weights as a placeholder.
const reviewsVS = `# Every request to reviews goes to v1. A canary is a weight change here.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - name: jason-tries-v2
    match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: reviews
        subset: v2
  - name: default
    route:
    - destination:
        host: reviews
        subset: v1
WEIGHTS
`

func joinFindings(fs []schema.Finding) string {
	var lines []string
	for _, f := range fs {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}
