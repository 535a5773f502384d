package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
)

// One listener whose SNI-chosen chains mix TLS termination (HttpConnectionManager with its
// own certificate) and TLS passthrough (tcp_proxy), as Istio emits for a Gateway port with
// both kinds of servers: real TLS clients, real passthrough backends that identify
// themselves by their own certificate, and HTTP backends behind the terminating chains.

// mixedListener is shop terminated (with HTTP RBAC denying /private), legacy passed
// through, denied.example.com passed through behind a network RBAC denying everything, and
// catchAll last when set.
func mixedListener(name string, port uint32, shop *testPKI, catchAll *listenerv3.FilterChain) *listenerv3.Listener {
	deny := rbacHTTPFilter(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"no-private": policy(perms(pathPerm(prefixSM("/private"))), ids(anyID))})
	l := httpsListener(name,
		httpsChain(shop, names("shop.example.com"), shopRoutes, nil, deny, routerFilter()),
		sniChain(toTCPCluster("legacy"), names("legacy.example.com")),
		sniChain(toTCPCluster("legacy"), names("denied.example.com"), netRBACFilter(netRBACRules(rbacv3.RBAC_DENY, map[string]*rbacv3.Policy{"all": policy(perms(anyPerm), ids(anyID))}))),
	)
	if catchAll != nil {
		l.FilterChains = append(l.FilterChains, catchAll)
	}
	l.Address.GetSocketAddress().PortSpecifier = &core.SocketAddress_PortValue{PortValue: port}
	return l
}

// withPassthrough adds to g's snapshot the passthrough clusters, each with one address.
func withPassthrough(t *testing.T, snap snapshot, clusters map[string]string) snapshot {
	for name, addr := range clusters {
		snap.resources[cds] = append(snap.resources[cds], edsCluster(name))
		snap.resources[eds] = append(snap.resources[eds], addrAssignment(t, name, addr))
	}
	return snap
}

func TestDecodeMixedChains(t *testing.T) {
	shop, def := newPKI(t, "shop.example.com"), newPKI(t, "default.example.net")
	lc, err := decodeListener(mixedListener("mixed", 443, shop, httpsChain(def, nil, defaultRoutes, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if lc.tcp == nil || lc.sni == nil || len(lc.tcp.chains) != 4 || len(lc.sni.chains) != 2 || !lc.choosesChains() {
		t.Fatalf("decoded %+v", lc)
	}
	c := lc.tcp.chains
	if c[0].proxy != nil || c[0].http != 0 || c[1].proxy == nil || c[1].http != -1 || c[2].rbac == nil || c[3].http != 1 ||
		lc.sni.chains[0].routeName != shopRoutes || lc.sni.chains[0].filters.rbac == nil || lc.sni.chains[1].routeName != defaultRoutes {
		t.Fatalf("chains %+v, https chains %+v", c, lc.sni.chains)
	}
	if !slices.Equal(lc.tcp.clusters(), []string{"legacy"}) {
		t.Fatalf("clusters %v", lc.tcp.clusters())
	}

	for _, tc := range []struct {
		name string
		edit func(*listenerv3.Listener)
		want string
	}{
		{"plain-text HCM chain", func(l *listenerv3.Listener) { l.FilterChains[0].TransportSocket = nil },
			"filter_chains[0].transport_socket: required: a listener whose envoy.filters.network.http_connection_manager chains are chosen by SNI must terminate TLS on each"},
		{"tcp_proxy chain terminating TLS", func(l *listenerv3.Listener) { l.FilterChains[1].TransportSocket = l.FilterChains[0].TransportSocket },
			"filter_chains[1].transport_socket: terminating TLS before envoy.filters.network.tcp_proxy"},
		{"mixing without tls_inspector", func(l *listenerv3.Listener) {
			l.ListenerFilters = nil
			l.FilterChains = []*listenerv3.FilterChain{httpsChain(shop, nil, shopRoutes, nil), sniChain(toTCPCluster("legacy"), nil)}
		}, `filter_chains[1].filters[0]: "envoy.filters.network.tcp_proxy": mixing filter chains that end in envoy.filters.network.http_connection_manager with chains that do not`},
	} {
		l := mixedListener("mixed", 443, shop, nil)
		tc.edit(l)
		if _, err := decodeListener(l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// shopGet sends GET path to shop.example.com through addr over h1 or h2, expecting shop's
// certificate.
func shopGet(t *testing.T, shop *testPKI, addr, sni, path string, h2 bool) (int, string, error) {
	return httpsGet(httpsClient(t, sni, shop, "shop.example.com", nil, h2), addr, "shop.example.com", path, h2)
}

// TestMixedChainsServe: on one listener, shop's SNI gets the gateway's certificate and the
// HTTP backend through shop's routes and HTTP RBAC (h1 and h2, and with its ClientHello
// written a byte at a time); legacy's SNI reaches the passthrough backend, whose own
// certificate answers; the network RBAC of denied.example.com's chain closes it; the
// catch-all may be of either kind; without one an unknown SNI is closed and counted.
func TestMixedChainsServe(t *testing.T) {
	shop, def := newPKI(t, "shop.example.com"), newPKI(t, "default.example.net")
	var legacyAccepted atomic.Int64
	legacy, fallback := passthroughBackend(t, "legacy", &legacyAccepted), passthroughBackend(t, "fallback", nil)
	g := newCertGateway(t)
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, withPassthrough(t, g.snapshot(t, "l1",
		mixedListener("https-catch-all", 443, shop, httpsChain(def, nil, defaultRoutes, nil)),
		mixedListener("passthrough-catch-all", 8443, shop, sniChain(toTCPCluster("fallback"), nil)),
		mixedListener("strict", 9443, shop, nil),
		httpListener("org-plain", "0.0.0.0", 8081, orgRoutes), // every route sent is referenced
	), map[string]string{"legacy": legacy, "fallback": fallback}))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})

	for _, name := range []string{"https-catch-all", "passthrough-catch-all", "strict"} {
		addr := p.ListenerAddr(name)
		for _, h2 := range []bool{false, true} {
			if code, be, err := shopGet(t, shop, addr, "shop.example.com", "/", h2); err != nil || code != 200 || be != "shop" {
				t.Errorf("%s, h2 %v, shop: %d from %q (%v)", name, h2, code, be, err)
			}
			if code, be, err := shopGet(t, shop, addr, "Shop.Example.com", "/private", h2); err != nil || code != 403 || be != "" {
				t.Errorf("%s, h2 %v, shop's HTTP RBAC: %d from %q (%v), want 403", name, h2, code, be, err)
			}
		}
		if got := viaSNI(t, addr, "legacy.example.com", nil); got != "legacy" {
			t.Errorf("%s, legacy: reached %q", name, got)
		}
		if got := viaSNI(t, addr, "denied.example.com", nil); got != "" {
			t.Errorf("%s, network RBAC: reached %q, want it denied", name, got)
		}
		if code, be, err := shopGetByteByByte(t, shop, addr); err != nil || code != 200 || be != "shop" {
			t.Errorf("%s, ClientHello a byte at a time: %d from %q (%v)", name, code, be, err)
		}
	}
	if n := legacyAccepted.Load(); n != 3 {
		t.Errorf("the legacy backend accepted %d connections, want 3 (the denied ones never reach it)", n)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_rbac_denied_total{listener="strict"} 1`)

	if code, be, err := httpsGet(httpsClient(t, "other.example.com", def, "default.example.net", nil, false),
		p.ListenerAddr("https-catch-all"), "anything.example.com", "/", false); err != nil || code != 200 || be != "default" {
		t.Errorf("HTTPS catch-all: %d from %q (%v)", code, be, err)
	}
	if got := viaSNI(t, p.ListenerAddr("passthrough-catch-all"), "other.example.com", nil); got != "fallback" {
		t.Errorf("passthrough catch-all: reached %q", got)
	}
	if got := viaSNI(t, p.ListenerAddr("strict"), "other.example.com", nil); got != "" {
		t.Errorf("strict, unknown SNI: reached %q, want it closed", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_no_filter_chain_match_total{listener="strict"} 1`)

	var dump *ListenerDump
	for _, l := range p.configDump().Listeners {
		if l.Name == "passthrough-catch-all" {
			dump = &l
		}
	}
	if dump == nil || !dump.Routed || len(dump.FilterChains) != 4 ||
		!slices.Equal(dump.FilterChains[0].ServerNames, []string{"shop.example.com"}) || dump.FilterChains[0].RouteConfig != shopRoutes ||
		!slices.Equal(dump.FilterChains[1].ServerNames, []string{"legacy.example.com"}) || !slices.Equal(dump.FilterChains[1].Clusters, []string{"legacy"}) ||
		dump.FilterChains[3].ServerNames != nil || !slices.Equal(dump.FilterChains[3].Clusters, []string{"fallback"}) {
		t.Fatalf("/config listener: %+v", dump)
	}
}

// shopGetByteByByte sends its ClientHello as one-byte records, one byte per write, then
// GET / to shop, and returns the status and the backend that answered.
func shopGetByteByByte(t *testing.T, shop *testPKI, addr string) (int, string, error) {
	raw, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		return 0, "", err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(testTimeout))
	roots := x509.NewCertPool()
	roots.AddCert(shop.ca)
	tc := tls.Client(&oneByteWrites{Conn: raw}, &tls.Config{ServerName: "shop.example.com", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		return 0, "", err
	}
	io.WriteString(tc, "GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Backend"), nil
}

// TestMixedChainsUpdate: adding a passthrough chain to an HTTPS listener keeps its socket
// and its open connection; the new chain's SNI then reaches its backend.
func TestMixedChainsUpdate(t *testing.T) {
	shop, def := newPKI(t, "shop.example.com"), newPKI(t, "default.example.net")
	legacy := passthroughBackend(t, "legacy", nil)
	g := newCertGateway(t)
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	https := httpsListener("gw", httpsChain(shop, names("shop.example.com"), shopRoutes, nil), httpsChain(def, nil, defaultRoutes, nil))
	orgPlain := httpListener("org-plain", "0.0.0.0", 8081, orgRoutes) // every route sent is referenced
	xds.set(t, node, withPassthrough(t, g.snapshot(t, "l1", https, orgPlain), map[string]string{"legacy": legacy}))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})
	addr := p.ListenerAddr("gw")
	open := httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false)
	if code, be, err := httpsGet(open, addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Fatalf("before: %d from %q (%v)", code, be, err)
	}

	mixed := httpsListener("gw", httpsChain(shop, names("shop.example.com"), shopRoutes, nil),
		sniChain(toTCPCluster("legacy"), names("legacy.example.com")), httpsChain(def, nil, defaultRoutes, nil))
	xds.set(t, node, withPassthrough(t, g.snapshot(t, "l2", mixed, orgPlain), map[string]string{"legacy": legacy}))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("gw"); got != addr {
		t.Fatalf("the update rebound the listener: %s, was %s", got, addr)
	}
	if code, be, err := httpsGet(open, addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Errorf("the open connection: %d from %q (%v)", code, be, err)
	}
	if code, be, err := shopGet(t, shop, addr, "shop.example.com", "/", true); err != nil || code != 200 || be != "shop" {
		t.Errorf("shop, a new connection: %d from %q (%v)", code, be, err)
	}
	if got := viaSNI(t, addr, "legacy.example.com", nil); got != "legacy" {
		t.Errorf("legacy after the update: reached %q", got)
	}
}
