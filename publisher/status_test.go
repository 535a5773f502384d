package publisher

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/source"
)

var ingress = map[string]string{"istio": "ingressgateway"}

func twoRoles(tag string) *compiler.Snapshot {
	return snapshot("c-"+tag,
		role(compiler.SidecarRole, nil, tag, "reviews", "ratings"),
		role("gateway/istio=ingressgateway", ingress, tag, "productpage"))
}

func TestStatusFollowsACKs(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	c := dialADS(t, p.XDSAddr(), "sidecar-1", map[string]string{"app": "reviews"}, nil, nil)
	eventually(t, "sidecar-1 in sync on a", func() bool { px, _ := proxyStatus(p, "sidecar-1"); return px.InSync })

	px, _ := proxyStatus(p, "sidecar-1")
	if px.Version != a.Version || !px.Connected || px.NackedVersion != nil || px.Error != nil ||
		!reflect.DeepEqual(px.Labels, map[string]string{"app": "reviews"}) || px.Role != compiler.SidecarRole {
		t.Errorf("status %+v", px)
	}

	b := twoRoles("b")
	p.publish(b)
	if st := p.Status(); st.Version != b.Version {
		t.Fatalf("status version %s, want %s", st.Version, b.Version)
	}
	eventually(t, "sidecar-1 in sync on b", func() bool { px, _ := proxyStatus(p, "sidecar-1"); return px.InSync })
	if px, _ := proxyStatus(p, "sidecar-1"); px.Version != b.Version {
		t.Errorf("version %s, want %s", px.Version, b.Version)
	}
	if got := c.count(); got[resource.ClusterType] != 1 || got[resource.RouteType] != 2 {
		t.Errorf("responses %v: a route-only change should re-send routes only", got)
	}

	// Publishing a back: the proxy's ACKs name a again (the version is a digest, not a counter).
	p.publish(a)
	eventually(t, "sidecar-1 back on a", func() bool { px, _ := proxyStatus(p, "sidecar-1"); return px.InSync && px.Version == a.Version })

	c.close()
	eventually(t, "sidecar-1 disconnected", func() bool { px, _ := proxyStatus(p, "sidecar-1"); return !px.Connected })
	if _, metrics := httpGet(t, p, "/metrics"); !strings.Contains(metrics, "signalbox_connected_proxies 0\n") {
		t.Errorf("metrics after disconnect:\n%s", metrics)
	}
}

func TestRoleFollowsLabels(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	gw := dialADS(t, p.XDSAddr(), "gw-1", map[string]string{"istio": "ingressgateway", "zone": "a"}, nil, nil)
	sc := dialADS(t, p.XDSAddr(), "node-2", nil, nil, nil)
	eventually(t, "both in sync", func() bool {
		g, _ := proxyStatus(p, "gw-1")
		s, _ := proxyStatus(p, "node-2")
		return g.InSync && s.InSync
	})
	if got := names(t, gw.last(resource.ClusterType)); !reflect.DeepEqual(got, []string{"productpage"}) {
		t.Errorf("gateway clusters %q", got)
	}
	if got := names(t, gw.last(resource.ListenerType)); !reflect.DeepEqual(got, []string{"listener-gateway/istio=ingressgateway"}) {
		t.Errorf("gateway listeners %q", got)
	}
	if got := names(t, sc.last(resource.ClusterType)); !reflect.DeepEqual(got, []string{"ratings", "reviews"}) {
		t.Errorf("sidecar clusters %q", got)
	}
	if g, _ := proxyStatus(p, "gw-1"); g.Role != "gateway/istio=ingressgateway" {
		t.Errorf("gw-1 role %q", g.Role)
	}

	// node-2 restarts as a gateway: same node id, new labels, new role.
	sc.close()
	again := dialADS(t, p.XDSAddr(), "node-2", ingress, nil, nil)
	eventually(t, "node-2 in sync as a gateway", func() bool {
		s, _ := proxyStatus(p, "node-2")
		return s.InSync && s.Role == "gateway/istio=ingressgateway"
	})
	if got := names(t, again.last(resource.ClusterType)); !reflect.DeepEqual(got, []string{"productpage"}) {
		t.Errorf("node-2 as a gateway got clusters %q", got)
	}

	// A publish where the gateway's selector changes moves gw-1 to the sidecar role.
	b := snapshot("b", role(compiler.SidecarRole, nil, "b", "reviews"), role("gateway/istio=egress", map[string]string{"istio": "egress"}, "b", "external"))
	p.publish(b)
	eventually(t, "gw-1 in sync as a sidecar", func() bool {
		g, _ := proxyStatus(p, "gw-1")
		return g.InSync && g.Role == compiler.SidecarRole
	})
	if got := names(t, gw.last(resource.ClusterType)); !reflect.DeepEqual(got, []string{"reviews"}) {
		t.Errorf("gw-1 as a sidecar got clusters %q", got)
	}
}

// gRPC's xDS client names the resources it wants; the publisher must answer with those.
func TestRequestNamingSomeResources(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews", "ratings", "details"))
	p := startServing(t, a)
	c := dialADS(t, p.XDSAddr(), "grpc-client", nil, nil, map[string][]string{
		resource.ClusterType:  {"ratings"},
		resource.EndpointType: {"ratings"},
		resource.ListenerType: {"listener-sidecar"},
		resource.RouteType:    {"routes-sidecar"},
	})
	eventually(t, "a response for each type named", func() bool { return c.total() == 4 })
	if got := names(t, c.last(resource.ClusterType)); !reflect.DeepEqual(got, []string{"ratings"}) {
		t.Errorf("clusters %q, want the one named", got)
	}
	eventually(t, "grpc-client in sync", func() bool { px, _ := proxyStatus(p, "grpc-client"); return px.InSync })
}

func TestStatusJSONShape(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	dialADS(t, p.XDSAddr(), "n1", map[string]string{"app": "x"}, nil, nil)
	eventually(t, "n1 in sync", func() bool { px, _ := proxyStatus(p, "n1"); return px.InSync })

	code, body := httpGet(t, p, "/status")
	if code != 200 {
		t.Fatalf("GET /status: %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != a.Version || doc["commit"] != "c-a" || doc["last_error"] != nil {
		t.Errorf("status document %s", body)
	}
	proxies := doc["proxies"].([]any)
	px := proxies[0].(map[string]any)
	for k, want := range map[string]any{"node_id": "n1", "version": a.Version, "in_sync": true, "connected": true,
		"nacked_version": nil, "error": nil, "labels": map[string]any{"app": "x"}} {
		if got, ok := px[k]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("proxies[0].%s = %#v, want %#v", k, got, want)
		}
	}
}

func TestDeltaClientStatus(t *testing.T) {
	a := twoRoles("a")
	p := startServing(t, a)
	conn, err := grpc.NewClient(p.XDSAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range compiler.ResourceTypes {
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: typ}
		if i == 0 {
			req.Node = &core.Node{Id: "delta-1"}
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce})
		}
	}()
	eventually(t, "delta-1 in sync on a", func() bool { px, _ := proxyStatus(p, "delta-1"); return px.InSync && px.Version == a.Version })
	b := twoRoles("b")
	p.publish(b)
	eventually(t, "delta-1 in sync on b", func() bool { px, _ := proxyStatus(p, "delta-1"); return px.InSync && px.Version == b.Version })
}

// Config.Snapshot serves a compiled snapshot file and follows no repository.
func TestServesASnapshotFile(t *testing.T) {
	files, err := source.ReadDir(filepath.Join("..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	s, findings := compiler.CompileFiles(files)
	if s == nil {
		t.Fatalf("the default tree does not compile: %v", findings)
	}
	path := filepath.Join(t.TempDir(), "snapshot.json")
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	p := start(t, Config{Snapshot: path})
	if st := p.Status(); st.Version != s.Version || st.LastError != nil {
		t.Fatalf("status %+v, want version %s", st, s.Version)
	}
	if err := p.Sync(t.Context()); err != nil {
		t.Errorf("Sync in snapshot mode: %v", err)
	}
	dialADS(t, p.XDSAddr(), "n1", nil, nil, nil)
	eventually(t, "n1 in sync", func() bool { px, _ := proxyStatus(p, "n1"); return px.InSync })

	if _, err := New(Config{}); err == nil {
		t.Error("New without a repository or a snapshot succeeded")
	}
	bad, err := New(Config{Repo: t.TempDir(), XDSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "open repository") {
		t.Errorf("Start on a directory that is no repository: %v", err)
	}
}
