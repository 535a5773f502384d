package proxy

import (
	"log/slog"
	"net/http/httptest"
	"testing"
)

// TestBindFromMatchingNoListener: a --bind FROM that no listener has (a mistyped address) is
// logged with the addresses the listeners do have; one that matches is not.
func TestBindFromMatchingNoListener(t *testing.T) {
	be := backend(t, "b")
	cfg := sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {be}},
		routes: routeConfiguration("r", vhost("svc", []string{"svc"}, prefixRoute("/", "b")))}
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, cfg.snapshot(t))
	logs := &syncBuffer{}
	p := New(Options{XDSAddr: xds.addr, NodeID: node,
		Rebind:   func(string) string { return "127.0.0.1:0" },
		BindFrom: []string{"127.0.0.1:15001", "0.0.0.0:15001"},
		Logger:   slog.New(slog.NewTextHandler(logs, nil))})
	runProxy(t, p)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})
	if n := logs.count(`msg="--bind matches no listener: it rebinds nothing" from=0.0.0.0:15001 listeners=127.0.0.1:15001`); n != 1 {
		t.Errorf("%d warnings for the unmatched FROM; log:\n%s", n, logs.b.String())
	}
	if n := logs.count("from=127.0.0.1:15001"); n != 0 {
		t.Errorf("a warning for the FROM that matches; log:\n%s", logs.b.String())
	}
}
