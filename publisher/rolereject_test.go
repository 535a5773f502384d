package publisher

import (
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
)

// When every connected proxy of a role rejects a version, the publisher says so (last_error,
// signalbox_role_rejected) and a proxy of that role that connects next is served the version
// the role last applied; the next publish clears it.
func TestEveryProxyOfARoleRejects(t *testing.T) {
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews"))
	p := startServing(t, a)
	var clients []*adsClient
	for _, id := range []string{"one", "two"} {
		clients = append(clients, dialADS(t, p.XDSAddr(), id, nil, nil, nil))
	}
	eventually(t, "both proxies on "+a.Version, func() bool {
		x, _ := proxyStatus(p, "one")
		y, _ := proxyStatus(p, "two")
		return x.InSync && y.InSync
	})
	for _, c := range clients {
		c.mu.Lock()
		c.nack[resource.RouteType] = true // from now on both refuse routes
		c.mu.Unlock()
	}
	b := snapshot("b", role(compiler.SidecarRole, nil, "b", "reviews"))
	p.publish(b)
	eventually(t, "the role to be reported rejected", func() bool {
		e := p.Status().LastError
		return e != nil && strings.Contains(e.Message, "every connected proxy of role sidecar rejected version "+b.Version)
	})
	if e := p.Status().LastError; !strings.Contains(e.Message, "new proxies of the role get version "+a.Version) {
		t.Errorf("last_error %q does not name the fallback %s", e.Message, a.Version)
	}
	if _, m := httpGet(t, p, "/metrics"); !strings.Contains(m, `signalbox_role_rejected{role="sidecar"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}

	fresh := dialADS(t, p.XDSAddr(), "fresh", nil, nil, nil)
	eventually(t, "the new proxy to apply the fallback", func() bool {
		px, _ := proxyStatus(p, "fresh")
		return px.Version == a.Version
	})
	if got := fresh.last(resource.RouteType).GetVersionInfo(); got != a.Roles[0].Versions[resource.RouteType] {
		t.Errorf("new proxy got routes %s, want the last applied %s", got, a.Roles[0].Versions[resource.RouteType])
	}

	c := snapshot("c", role(compiler.SidecarRole, nil, "c", "reviews", "ratings"))
	p.publish(c)
	time.Sleep(50 * time.Millisecond)
	if _, m := httpGet(t, p, "/metrics"); !strings.Contains(m, `signalbox_role_rejected{role="sidecar"} 0`) {
		t.Errorf("after a new publish the role is still flagged:\n%s", m)
	}
	eventually(t, "the new proxy to follow the next publish", func() bool {
		px, _ := proxyStatus(p, "fresh")
		return px.Version == c.Version
	})
}

// The fallback is the version the role's proxies run, as status shows it: a publish that
// changed another role (or, with namespaces, another namespace's view) sends a proxy nothing
// to ACK, yet it runs that version, and new proxies of the role start from it.
func TestEveryProxyOfARoleRejectsFallsBackToTheVersionItRuns(t *testing.T) {
	gw := map[string]string{"istio": "ingressgateway"}
	a := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews"), role("gateway/istio=ingressgateway", gw, "g1", "edge"))
	p := startServing(t, a)
	var clients []*adsClient
	for _, id := range []string{"one", "two"} {
		clients = append(clients, dialADS(t, p.XDSAddr(), id, nil, nil, nil))
	}
	eventually(t, "both proxies on "+a.Version, func() bool {
		x, _ := proxyStatus(p, "one")
		y, _ := proxyStatus(p, "two")
		return x.InSync && y.InSync
	})
	// Only the gateway's role changes: the sidecars are sent nothing and run a2.
	a2 := snapshot("a2", role(compiler.SidecarRole, nil, "a", "reviews"), role("gateway/istio=ingressgateway", gw, "g2", "edge"))
	p.publish(a2)
	eventually(t, "both proxies on "+a2.Version, func() bool {
		x, _ := proxyStatus(p, "one")
		y, _ := proxyStatus(p, "two")
		return x.Version == a2.Version && y.Version == a2.Version
	})
	for _, c := range clients {
		c.mu.Lock()
		c.nack[resource.RouteType] = true
		c.mu.Unlock()
	}
	b := snapshot("b", role(compiler.SidecarRole, nil, "b", "reviews"), role("gateway/istio=ingressgateway", gw, "g2", "edge"))
	p.publish(b)
	eventually(t, "the role to be reported rejected", func() bool {
		e := p.Status().LastError
		return e != nil && strings.Contains(e.Message, "every connected proxy of role sidecar rejected version "+b.Version)
	})
	if e := p.Status().LastError; !strings.Contains(e.Message, "new proxies of the role get version "+a2.Version) {
		t.Errorf("last_error %q does not name the version the proxies run, %s (a: %s)", e.Message, a2.Version, a.Version)
	}
	dialADS(t, p.XDSAddr(), "fresh", nil, nil, nil)
	eventually(t, "the new proxy to apply "+a2.Version, func() bool {
		px, _ := proxyStatus(p, "fresh")
		return px.Version == a2.Version
	})
}
