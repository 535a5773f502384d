package proxy

import (
	"bufio"
	"cmp"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// tcpBackend is a real TCP server: it greets each connection with "<name>\n", echoes what it
// reads, and after the client's FIN answers "bye <name>\n" and closes.
func tcpBackend(t testing.TB, name string) string {
	t.Helper()
	return serveConns(t, listenLoopback(t), func(c net.Conn) {
		io.WriteString(c, name+"\n")
		io.Copy(c, c)
		io.WriteString(c, "bye "+name+"\n")
	})
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveConns runs handle on every connection ln accepts, each bounded by testTimeout, until
// the test ends; it returns ln's address.
func serveConns(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func tcpProxyListener(name string, port uint32, tp *tcpv3.TcpProxy) *listenerv3.Listener {
	return &listenerv3.Listener{
		Name: name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: tcpProxyFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(tp)},
		}}}},
	}
}

func toTCPCluster(name string) *tcpv3.TcpProxy {
	return &tcpv3.TcpProxy{StatPrefix: "tcp", ClusterSpecifier: &tcpv3.TcpProxy_Cluster{Cluster: name}}
}

func toTCPWeighted(clusters ...any) *tcpv3.TcpProxy {
	wc := &tcpv3.TcpProxy_WeightedCluster{}
	for i := 0; i+1 < len(clusters); i += 2 {
		wc.Clusters = append(wc.Clusters, &tcpv3.TcpProxy_WeightedCluster_ClusterWeight{
			Name: clusters[i].(string), Weight: uint32(clusters[i+1].(int))})
	}
	return &tcpv3.TcpProxy{StatPrefix: "tcp", ClusterSpecifier: &tcpv3.TcpProxy_WeightedClusters{WeightedClusters: wc}}
}

func addrAssignment(t testing.TB, name string, addrs ...string) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	var lbs []*endpointv3.LbEndpoint
	for _, a := range addrs {
		h, p, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		lbs = append(lbs, lbEndpoint(h, uint32(n)))
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{
		LoadBalancingWeight: wrapperspb.UInt32(1), LbEndpoints: lbs,
	}}}
}

// tcpGateway is a gateway serving TCP listeners: listeners, and clusters with their endpoint
// addresses (edited by edit), at listener version lv.
type tcpGateway struct {
	lv        string
	listeners []*listenerv3.Listener
	clusters  map[string][]string
	edit      map[string]func(*clusterv3.Cluster)
	// ev is the endpoints' version ("e1" when empty); clusters in noEDS get no endpoints.
	ev, cv string
	noEDS  map[string]bool
}

func (g tcpGateway) snapshot(t testing.TB) snapshot {
	ev := cmp.Or(g.ev, "e1")
	snap := snapshot{versions: map[string]string{lds: g.lv, cds: cmp.Or(g.cv, "c1"), eds: ev}, resources: map[string][]types.Resource{lds: {}}}
	for _, l := range g.listeners {
		snap.resources[lds] = append(snap.resources[lds], l)
	}
	for name, addrs := range g.clusters {
		c := edsCluster(name)
		if e := g.edit[name]; e != nil {
			e(c)
		}
		snap.resources[cds] = append(snap.resources[cds], c)
		if !g.noEDS[name] {
			snap.resources[eds] = append(snap.resources[eds], addrAssignment(t, name, addrs...))
		}
	}
	return snap
}

func setupTCP(t testing.TB, g tcpGateway) (*xdsServer, *Proxy) {
	t.Helper()
	xds := startXDS(t, "127.0.0.1:0")
	xds.set(t, "node-"+t.Name(), g.snapshot(t))
	p := startProxy(t, xds.addr, "node-"+t.Name())
	waitVersions(t, p, map[string]string{lds: g.lv, cds: "c1", eds: "e1"})
	return xds, p
}

// tcpConn is a client connection through the proxy, with a deadline on everything.
type tcpConn struct {
	*net.TCPConn
	r *bufio.Reader
}

func dialTCP(t testing.TB, addr string) *tcpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return &tcpConn{TCPConn: c.(*net.TCPConn), r: bufio.NewReader(c)}
}

// line reads one line, "" at EOF or on error.
func (c *tcpConn) line() string {
	s, _ := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n")
}

// greeting is the name of the backend the connection reached, "" if the proxy closed it.
func (c *tcpConn) greeting() string { return c.line() }

func (c *tcpConn) echo(t testing.TB, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); got != msg {
		t.Fatalf("echo: got %q, want %q", got, msg)
	}
}

func wantMetric(t testing.TB, p *Proxy, line string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		m := metricsOf(t, p)
		if strings.Contains(m, line+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %q not found in:\n%s", line, grepLines(m, strings.SplitN(line, "{", 2)[0]))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func dialTCPErr(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.SetDeadline(time.Now().Add(time.Second))
	}
	return c, err
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
