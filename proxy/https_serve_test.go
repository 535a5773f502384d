package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// HTTPS listeners with a certificate per SNI-chosen chain, through real listeners on
// loopback: real crypto/tls clients verify which certificate answered against that chain's
// own CA, and real backends say which chain's routes served the request.

const (
	shopRoutes    = "https.443.https-shop.public.edge"
	orgRoutes     = "https.443.https-blog.public.edge"
	defaultRoutes = "https.443.https-default.public.edge"
)

// certGateway is the configuration of one test: listeners, and the three route
// configurations, each sending its hosts to its own backend.
type certGateway struct {
	backends map[string]*httptest.Server // by cluster name: shop, org, default
}

func newCertGateway(t *testing.T) certGateway {
	return certGateway{backends: map[string]*httptest.Server{"shop": backend(t, "shop"), "org": backend(t, "org"), "default": backend(t, "default")}}
}

func (g certGateway) snapshot(t *testing.T, lv string, listeners ...*listenerv3.Listener) snapshot {
	t.Helper()
	snap := snapshot{
		versions: map[string]string{lds: lv, rds: "r1", cds: "c1", eds: "e1"},
		resources: map[string][]types.Resource{
			rds: {
				routeConfiguration(shopRoutes, vhost("shop", []string{"shop.example.com"}, prefixRoute("/", "shop"))),
				routeConfiguration(orgRoutes, vhost("org", []string{"blog.example.org", "www.example.org"}, prefixRoute("/", "org"))),
				routeConfiguration(defaultRoutes, vhost("default", []string{"*"}, prefixRoute("/", "default"))),
			},
		},
	}
	for _, l := range listeners {
		snap.resources[lds] = append(snap.resources[lds], l)
	}
	for _, name := range []string{"shop", "org", "default"} {
		snap.resources[cds] = append(snap.resources[cds], edsCluster(name))
		snap.resources[eds] = append(snap.resources[eds], loadAssignment(t, name, g.backends[name]))
	}
	return snap
}

func (g certGateway) start(t *testing.T, listeners ...*listenerv3.Listener) (*xdsServer, *Proxy) {
	t.Helper()
	xds := startXDS(t, "127.0.0.1:0")
	node := "node-" + t.Name()
	xds.set(t, node, g.snapshot(t, "l1", listeners...))
	p := startProxy(t, xds.addr, node)
	waitVersions(t, p, map[string]string{lds: "l1", rds: "r1", cds: "c1", eds: "e1"})
	return xds, p
}

// httpsClient sends sni ("": none) and accepts only a certificate for certName issued by
// ca's CA; cert, when set, is its client certificate; h2 makes it speak HTTP/2 only.
func httpsClient(t *testing.T, sni string, ca *testPKI, certName string, cert *tls.Certificate, h2 bool) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(ca.ca)
	tc := &tls.Config{ServerName: sni, InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: certName})
		return err
	}}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	var protocols http.Protocols
	if h2 {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	tr := &http.Transport{TLSClientConfig: tc, Protocols: &protocols}
	t.Cleanup(tr.CloseIdleConnections) // before the proxy stops: it need not wait for them
	return &http.Client{Timeout: testTimeout, Transport: tr}
}

// httpsGet sends GET path with Host host over c and returns the status and the backend
// that answered ("" when the proxy answered itself).
func httpsGet(c *http.Client, addr, host, path string, h2 bool) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body) // read to the end, so the connection is kept for the next request
	resp.Body.Close()
	if h2 != (resp.ProtoMajor == 2) {
		return 0, "", fmt.Errorf("answered over HTTP/%d", resp.ProtoMajor)
	}
	return resp.StatusCode, resp.Header.Get("X-Backend"), nil
}

// TestHTTPSChainsServe: each SNI gets its chain's certificate, routes and HTTP filters over
// HTTP/1.1 and h2; a Host another chain serves is looked up in the connection's chain's
// routes only; no SNI or an unknown one takes the catch-all; without a catch-all they are
// closed before any certificate and counted. /config shows the chains.
func TestHTTPSChainsServe(t *testing.T) {
	shop, org, def := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org"), newPKI(t, "default.example.net")
	g := newCertGateway(t)
	strict := httpsListener("strict",
		httpsChain(shop, names("shop.example.com"), shopRoutes, nil),
		httpsChain(org, names("blog.example.org"), orgRoutes, nil))
	strict.Address.GetSocketAddress().PortSpecifier = httpListener("s", "0.0.0.0", 8443, "r").Address.GetSocketAddress().PortSpecifier
	_, p := g.start(t, gatewayCertsListener(shop, org, def), strict)
	addr := p.ListenerAddr("0.0.0.0_443")

	for _, h2 := range []bool{false, true} {
		for _, tc := range []struct {
			name, sni   string
			ca          *testPKI
			certName    string
			host, path  string
			wantCode    int
			wantBackend string
		}{
			{"shop", "shop.example.com", shop, "shop.example.com", "shop.example.com", "/", 200, "shop"},
			{"shop, any case", "SHOP.example.COM", shop, "shop.example.com", "shop.example.com", "/", 200, "shop"},
			{"shop's RBAC denies", "shop.example.com", shop, "shop.example.com", "shop.example.com", "/private", 403, ""},
			{"org", "www.example.org", org, "blog.example.org", "www.example.org", "/", 200, "org"},
			{"org's chain has no RBAC", "blog.example.org", org, "blog.example.org", "blog.example.org", "/private", 200, "org"},
			{"shop's host over org's chain: org's routes", "blog.example.org", org, "blog.example.org", "shop.example.com", "/", 404, ""},
			{"no SNI: the catch-all", "", def, "default.example.net", "shop.example.com", "/", 200, "default"},
			{"unknown SNI: the catch-all", "other.example.com", def, "default.example.net", "blog.example.org", "/", 200, "default"},
		} {
			code, be, err := httpsGet(httpsClient(t, tc.sni, tc.ca, tc.certName, nil, h2), addr, tc.host, tc.path, h2)
			if err != nil || code != tc.wantCode || be != tc.wantBackend {
				t.Errorf("h2 %v, %s: %d from %q (%v), want %d from %q", h2, tc.name, code, be, err, tc.wantCode, tc.wantBackend)
			}
		}
	}

	strictAddr := p.ListenerAddr("strict")
	if code, be, err := httpsGet(httpsClient(t, "blog.example.org", org, "blog.example.org", nil, false), strictAddr, "blog.example.org", "/", false); err != nil || code != 200 || be != "org" {
		t.Errorf("strict, org: %d from %q (%v)", code, be, err)
	}
	for _, sni := range []string{"other.example.com", ""} {
		// No certificate at all: the handshake fails before the server's certificate.
		var sawCert bool
		c := httpsClient(t, sni, def, "default.example.net", nil, false)
		c.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = func(tls.ConnectionState) error {
			sawCert = true
			return nil
		}
		if _, _, err := httpsGet(c, strictAddr, "shop.example.com", "/", false); err == nil || sawCert {
			t.Errorf("strict, SNI %q: err %v, certificate presented %v; want the connection closed first", sni, err, sawCert)
		}
	}
	wantMetric(t, p, `signalbox_proxy_tcp_no_filter_chain_match_total{listener="strict"} 2`)

	var dump *ListenerDump
	for _, l := range p.configDump().Listeners {
		if l.Name == "0.0.0.0_443" {
			dump = &l
		}
	}
	if dump == nil || !dump.Routed || len(dump.FilterChains) != 3 ||
		!slices.Equal(dump.FilterChains[1].ServerNames, []string{"blog.example.org", "www.example.org"}) ||
		dump.FilterChains[1].RouteConfig != orgRoutes || dump.FilterChains[2].ServerNames != nil || dump.FilterChains[2].RouteConfig != defaultRoutes {
		t.Fatalf("/config listener: %+v", dump)
	}
}

// TestHTTPSChainsMutualOnOneChain: org's chain requires a client certificate from its CA;
// shop's chain, on the same listener, asks for none.
func TestHTTPSChainsMutualOnOneChain(t *testing.T) {
	shop, org := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org")
	g := newCertGateway(t)
	mutual := func(d *tlsv3.DownstreamTlsContext) {
		d.RequireClientCertificate = wrapperspb.Bool(true)
		d.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inlineBytes(org.caPEM)}}
	}
	_, p := g.start(t, httpsListener("gw",
		httpsChain(shop, names("shop.example.com"), shopRoutes, nil),
		httpsChain(org, names("blog.example.org"), orgRoutes, mutual),
		httpsChain(newPKI(t, "default.example.net"), nil, defaultRoutes, nil)))
	addr := p.ListenerAddr("gw")
	for _, tc := range []struct {
		name   string
		sni    string
		ca     *testPKI
		cert   *tls.Certificate
		wantOK bool
	}{
		{"shop without a client certificate", "shop.example.com", shop, nil, true},
		{"org without a client certificate", "blog.example.org", org, nil, false},
		{"org with org's client certificate", "blog.example.org", org, &org.client, true},
		{"org with a certificate of another CA", "blog.example.org", org, &shop.client, false},
	} {
		host := tc.sni
		code, be, err := httpsGet(httpsClient(t, tc.sni, tc.ca, tc.ca.server.Leaf.DNSNames[0], tc.cert, false), addr, host, "/", false)
		if ok := err == nil && code == 200 && be != ""; ok != tc.wantOK {
			t.Errorf("%s: %d from %q (%v), want served %v", tc.name, code, be, err, tc.wantOK)
		}
	}
}

// TestHTTPSChainsCertificateUpdate: an update that gives shop's chain another certificate
// keeps the socket; an open connection keeps its chain and certificate, new ones get the
// new certificate, and org's chain is untouched.
func TestHTTPSChainsCertificateUpdate(t *testing.T) {
	shop, shop2, org, def := newPKI(t, "shop.example.com"), newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org"), newPKI(t, "default.example.net")
	g := newCertGateway(t)
	xds, p := g.start(t, gatewayCertsListener(shop, org, def))
	addr := p.ListenerAddr("0.0.0.0_443")
	before := httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false)
	if code, be, err := httpsGet(before, addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Fatalf("before the update: %d from %q (%v)", code, be, err)
	}

	xds.set(t, "node-"+t.Name(), g.snapshot(t, "l2", gatewayCertsListener(shop2, org, def)))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("0.0.0.0_443"); got != addr {
		t.Fatalf("the update rebound the listener: %s, was %s", got, addr)
	}
	// The old client trusts only the old CA: it is served only on its open connection.
	if code, be, err := httpsGet(before, addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Errorf("the open connection: %d from %q (%v)", code, be, err)
	}
	if _, _, err := httpsGet(httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false), addr, "shop.example.com", "/", false); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("a new connection verified against the old CA: %v, want a certificate error", err)
	}
	if code, be, err := httpsGet(httpsClient(t, "shop.example.com", shop2, "shop.example.com", nil, true), addr, "shop.example.com", "/", true); err != nil || code != 200 || be != "shop" {
		t.Errorf("the new certificate: %d from %q (%v)", code, be, err)
	}
	if code, be, err := httpsGet(httpsClient(t, "blog.example.org", org, "blog.example.org", nil, false), addr, "blog.example.org", "/", false); err != nil || code != 200 || be != "org" {
		t.Errorf("org after the update: %d from %q (%v)", code, be, err)
	}

	// Org's chain now names other routes, which send its hosts to the default backend: the
	// new name is subscribed and served, on the same socket.
	l3 := gatewayCertsListener(shop2, org, def)
	l3.FilterChains[1] = httpsChain(org, names("blog.example.org", "www.example.org"), "org-v2", nil)
	snap := g.snapshot(t, "l3", l3)
	snap.versions[rds] = "r2"
	snap.resources[rds][1] = routeConfiguration("org-v2", vhost("org", []string{"blog.example.org"}, prefixRoute("/", "default")))
	xds.set(t, "node-"+t.Name(), snap)
	waitVersions(t, p, map[string]string{lds: "l3", rds: "r2"})
	if got := p.ListenerAddr("0.0.0.0_443"); got != addr {
		t.Fatalf("the route name update rebound the listener: %s, was %s", got, addr)
	}
	if code, be, err := httpsGet(httpsClient(t, "blog.example.org", org, "blog.example.org", nil, false), addr, "blog.example.org", "/", false); err != nil || code != 200 || be != "default" {
		t.Errorf("org's new routes: %d from %q (%v), want 200 from default", code, be, err)
	}
	if code, be, err := httpsGet(httpsClient(t, "shop.example.com", shop2, "shop.example.com", nil, false), addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Errorf("shop after org's routes changed: %d from %q (%v)", code, be, err)
	}
}

// TestHTTPSChainsListenerFiltersTimeout: the tls_inspector's listener_filters_timeout bounds
// the ClientHello only: a client that sends none is closed and counted, one that shook hands
// in time may then wait longer; with continue_on_listener_filters_timeout a late ClientHello
// goes on without SNI, to the catch-all, whatever name it carries.
func TestHTTPSChainsListenerFiltersTimeout(t *testing.T) {
	shop, def := newPKI(t, "shop.example.com"), newPKI(t, "default.example.net")
	g := newCertGateway(t)
	mk := func(name string, port uint32, cont bool) *listenerv3.Listener {
		l := httpsListener(name,
			httpsChain(shop, names("shop.example.com"), shopRoutes, nil),
			httpsChain(newPKI(t, "blog.example.org"), names("blog.example.org"), orgRoutes, nil),
			httpsChain(def, nil, defaultRoutes, nil))
		l.Address.GetSocketAddress().PortSpecifier = httpListener("x", "0.0.0.0", port, "r").Address.GetSocketAddress().PortSpecifier
		l.ListenerFiltersTimeout = durationpb.New(150 * time.Millisecond)
		l.ContinueOnListenerFiltersTimeout = cont
		return l
	}
	_, p := g.start(t, mk("close", 443, false), mk("continue", 8443, true))

	silent, err := net.DialTimeout("tcp", p.ListenerAddr("close"), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetDeadline(time.Now().Add(testTimeout))
	start := time.Now()
	if n, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatalf("a client without a ClientHello read %d bytes", n)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("closed after %v, want about the 150ms listener_filters_timeout", waited)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_listener_filter_timeouts_total{listener="close"} 1`)

	// In time: the timeout no longer applies once the chain is chosen.
	c := httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false)
	if code, be, err := httpsGet(c, p.ListenerAddr("close"), "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Fatalf("shop: %d from %q (%v)", code, be, err)
	}
	time.Sleep(300 * time.Millisecond)
	if code, be, err := httpsGet(c, p.ListenerAddr("close"), "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Errorf("shop, on the same connection after a pause: %d from %q (%v)", code, be, err)
	}

	late, err := net.DialTimeout("tcp", p.ListenerAddr("continue"), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	late.SetDeadline(time.Now().Add(testTimeout))
	time.Sleep(300 * time.Millisecond)
	tc := tls.Client(late, &tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("late ClientHello with continue_on_listener_filters_timeout: %v", err)
	}
	if got := tc.ConnectionState().PeerCertificates[0].DNSNames[0]; got != "default.example.net" {
		t.Errorf("late ClientHello for shop.example.com got the certificate of %q, want the catch-all's", got)
	}
	wantMetric(t, p, `signalbox_proxy_tcp_listener_filter_timeouts_total{listener="continue"} 1`)
}

// TestHTTPSChainsFromOneChain: a TLS listener of one chain that an update gives a chain per
// certificate keeps its socket; shop's chain keeps serving shop's routes, on the open
// connection and on new ones, and org's name now gets org's certificate and routes.
func TestHTTPSChainsFromOneChain(t *testing.T) {
	shop, org, def := newPKI(t, "shop.example.com"), newPKI(t, "blog.example.org"), newPKI(t, "default.example.net")
	g := newCertGateway(t)
	one := httpListener("0.0.0.0_443", "0.0.0.0", 443, shopRoutes)
	one.FilterChains[0].TransportSocket = httpsChain(shop, nil, shopRoutes, nil).TransportSocket
	// The other routes are named by plain listeners, so every route sent is referenced.
	others := []*listenerv3.Listener{httpListener("org-plain", "0.0.0.0", 8081, orgRoutes), httpListener("default-plain", "0.0.0.0", 8082, defaultRoutes)}
	xds, p := g.start(t, append([]*listenerv3.Listener{one}, others...)...)
	addr := p.ListenerAddr("0.0.0.0_443")
	before := httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false)
	if code, be, err := httpsGet(before, addr, "shop.example.com", "/", false); err != nil || code != 200 || be != "shop" {
		t.Fatalf("one chain: %d from %q (%v)", code, be, err)
	}

	xds.set(t, "node-"+t.Name(), g.snapshot(t, "l2", append([]*listenerv3.Listener{gatewayCertsListener(shop, org, def)}, others...)...))
	waitVersions(t, p, map[string]string{lds: "l2"})
	if got := p.ListenerAddr("0.0.0.0_443"); got != addr {
		t.Fatalf("the update rebound the listener: %s, was %s", got, addr)
	}
	for _, c := range []struct {
		name   string
		client *http.Client
		host   string
		want   string
	}{
		{"shop, the open connection", before, "shop.example.com", "shop"},
		{"shop, a new connection", httpsClient(t, "shop.example.com", shop, "shop.example.com", nil, false), "shop.example.com", "shop"},
		{"org", httpsClient(t, "www.example.org", org, "blog.example.org", nil, false), "www.example.org", "org"},
	} {
		if code, be, err := httpsGet(c.client, addr, c.host, "/", false); err != nil || code != 200 || be != c.want {
			t.Errorf("%s: %d from %q (%v), want 200 from %q", c.name, code, be, err, c.want)
		}
	}
}
