package proxy

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestAdminHandler(t *testing.T) {
	// Before any configuration: healthy, not ready.
	idle := New(Options{XDSAddr: "127.0.0.1:1", NodeID: "idle"})
	for path, want := range map[string]int{"/healthz": 200, "/ready": 503, "/config": 200} {
		rec := httptest.NewRecorder()
		idle.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("idle proxy GET %s: %d, want %d", path, rec.Code, want)
		}
	}

	b := backend(t, "b")
	_, p, addr := setup(t, sidecar{version: "r1", clusters: map[string][]*httptest.Server{"b": {b}},
		routes: routeConfiguration("r", vhost("all", []string{"*"}, prefixRoute("/", "b")))})
	rec := httptest.NewRecorder()
	p.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != 200 {
		t.Errorf("GET /ready after the first configuration: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	p.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	var d ConfigDump
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("GET /config: %v\n%s", err, rec.Body)
	}
	if !d.Connected || !d.Ready || d.LastNACK != nil {
		t.Errorf("connected %v ready %v last_nack %v", d.Connected, d.Ready, d.LastNACK)
	}
	if len(d.Listeners) != 1 || d.Listeners[0].Name != "out" || d.Listeners[0].Address != "127.0.0.1:15001" ||
		d.Listeners[0].BoundAddress != addr || d.Listeners[0].RouteConfig != "r" || !d.Listeners[0].Routed {
		t.Errorf("listeners: %+v", d.Listeners)
	}
	if d.Versions[lds] != "l1" || d.Versions[rds] != "r1" || d.Versions[cds] != "c1" || d.Versions[eds] != "e1" {
		t.Errorf("versions: %v", d.Versions)
	}
	if len(d.Clusters) != 1 || len(d.Clusters[0].Endpoints) != 1 {
		t.Errorf("clusters: %+v", d.Clusters)
	}
}
