package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// tcpServer makes the listener of a Gateway server of protocol TCP, as Istio's
// buildGatewayNetworkFiltersFromTCPRoutes does: the connections go to the destinations of the
// first tcp route that applies (tcpRouteFor). A server no route applies to gets no listener,
// as in Istio (which omits a listener without filter chains), with a warning.
func (b *builder) tcpServer(g *schema.Document, path string, srv schema.Server, ref string) *ir.Listener {
	d, rulePath, r := b.tcpRouteFor(srv, ref)
	if d == nil {
		b.warnf(g, path, "no VirtualService bound to gateway %s has a tcp route for port %d and hosts %v: no listener is made for this server",
			ref, srv.Port.Number, srv.Hosts)
		return nil
	}
	t, ok := b.tcpProxy(d, rulePath, r.Route, ref)
	if !ok {
		return nil
	}
	bind := orDefault(srv.Bind, "0.0.0.0")
	return &ir.Listener{Name: listenerName(bind, srv.Port.Number), Address: bind, Port: srv.Port.Number, TCP: t}
}

// tcpRouteFor finds Istio's route for a TCP server: VirtualServices bound to the gateway in
// tree order, the first whose hosts the server admits, and in it the first tcp route with a
// match for this port and gateway (or no match at all). Istio ignores the host of a TCP
// connection, which has none: hosts only select the VirtualService.
func (b *builder) tcpRouteFor(srv schema.Server, gateway string) (*schema.Document, string, schema.TCPRoute) {
	for _, d := range b.docs(schema.KindVirtualService) {
		vs := d.Spec.(*schema.VirtualService)
		if len(vs.TCP) == 0 || !slices.Contains(boundGateways(d), gateway) {
			continue
		}
		if !serverAdmits(srv, gateway, d, vs.Hosts) {
			continue
		}
		for i, r := range vs.TCP {
			if len(r.Route) > 0 && l4Matches(d, r.Match, srv.Port.Number, gateway) {
				return d, fmt.Sprintf("spec.tcp[%d]", i), r
			}
		}
	}
	return nil, "", schema.TCPRoute{}
}

// l4Matches is Istio's l4MultiMatch: match blocks are ORed, each needing its port (when set)
// to be the server's and its gateways (when set) to name this one; no block matches all.
func l4Matches(d *schema.Document, ms []schema.L4MatchAttributes, port uint32, gateway string) bool {
	if len(ms) == 0 {
		return true
	}
	return slices.ContainsFunc(ms, func(m schema.L4MatchAttributes) bool {
		portOK := m.Port == 0 || m.Port == port
		gatewayOK := len(m.Gateways) == 0 || slices.Contains(schema.BoundGateways(d.Namespace, m.Gateways), gateway)
		return portOK && gatewayOK
	})
}

// tcpProxy resolves a tcp or tls route's destinations to clusters, as Istio's
// buildOutboundNetworkFilters does: one destination is the cluster whatever its weight; several are weighted, zero weights
// dropped. The idle timeout is the one the first destination's DestinationRule sets at its top
// level (Istio reads neither subsets nor port-level settings there).
//
// gateway ("namespace/name") is the Gateway whose listener it is: a destination's subset must be
// defined by the DestinationRule its namespace sees, where its proxies are taken to run.
func (b *builder) tcpProxy(d *schema.Document, rulePath string, route []schema.RouteDestination, gateway string) (*ir.TCPProxy, bool) {
	t := &ir.TCPProxy{}
	ok := true
	for k, rd := range route {
		// No virtual host: a destination without a port needs a service with one port.
		path := fmt.Sprintf("%s.route[%d].destination", rulePath, k)
		name, good := b.resolveDestination(d, path, rd.Destination, "", 0)
		if good && b.hashesSourceIP(name) {
			// Istio sets the TCP proxy's hash policy for it, which the signalbox proxy lacks.
			b.unsupportedf(d, path, "the DestinationRule of %s hashes by source IP (consistentHash.useSourceIp), which TCP routes do not do", name)
			good = false
		}
		if good && rd.Destination.Subset != "" {
			host := expandHost(rd.Destination.Host, d.Namespace)
			if svc := b.services[host]; svc != nil && svc.variants != nil {
				ns, _, _ := strings.Cut(gateway, "/")
				seen := len(b.findings)
				b.checkSubsetVisible(destRef{doc: d, path: path + ".host", host: host, cluster: name, subset: rd.Destination.Subset}, svc,
					[]string{ns}, fmt.Sprintf("at gateway %s, whose proxies are taken to run in its namespace %s", gateway, ns))
				good = len(b.findings) == seen
			}
		}
		switch {
		case !good:
			ok = false
		case len(route) == 1:
			t.Cluster, t.StatPrefix = name, name
		case rd.Weight != nil && *rd.Weight > 0:
			t.Clusters = append(t.Clusters, ir.WeightedCluster{Name: name, Weight: uint32(*rd.Weight)})
		}
	}
	if !ok {
		return nil, false
	}
	if t.Cluster == "" {
		if len(t.Clusters) == 0 {
			b.errorf(d, rulePath+".route", "every destination has weight 0: no connection could be routed")
			return nil, false
		}
		t.StatPrefix = d.Name + "." + d.Namespace
	}
	t.IdleTimeout = b.tcpIdleTimeout(expandHost(route[0].Destination.Host, d.Namespace))
	return t, true
}

func (b *builder) hashesSourceIP(cluster string) bool {
	c := b.clusters[cluster]
	return c != nil && c.Policy != nil && slices.ContainsFunc(c.Policy.Hash, func(h ir.HashPolicy) bool { return h.SourceIP })
}

func (b *builder) tcpIdleTimeout(host string) *ir.Duration {
	svc := b.services[host]
	if svc != nil && svc.variants != nil {
		// A TCP listener's idle timeout is not chosen by the DestinationRule a proxy's
		// namespace sees: refused where one would set it.
		for _, v := range svc.variants {
			if v.rule == nil {
				continue
			}
			if tp := v.rule.policy; tp != nil && tp.ConnectionPool != nil && tp.ConnectionPool.TCP != nil && tp.ConnectionPool.TCP.IdleTimeout != "" {
				b.unsupportedf(v.rule.policyDoc, "spec.trafficPolicy.connectionPool.tcp.idleTimeout", "a gateway's TCP listener takes its idle timeout from the DestinationRule, which is not chosen by the proxy's namespace there: with exportTo narrower than \"*\", or several DestinationRules for the host, tcp routes to it take none")
			}
		}
		return nil
	}
	if svc == nil || svc.rule == nil {
		return nil
	}
	tp := svc.rule.policy
	if tp == nil || tp.ConnectionPool == nil || tp.ConnectionPool.TCP == nil || tp.ConnectionPool.TCP.IdleTimeout == "" {
		return nil
	}
	v := b.duration(svc.rule.policyDoc, "spec.trafficPolicy.connectionPool.tcp.idleTimeout", tp.ConnectionPool.TCP.IdleTimeout)
	return &v
}

// checkTCPRoutes reports what signalbox cannot do with a VirtualService's tcp routes: route
// TCP for the mesh (a sidecar has one HTTP listener, for every service), or select connections
// by their source or destination address (a gateway listener takes every connection on its
// port).
func (b *builder) checkTCPRoutes(d *schema.Document, vs *schema.VirtualService) {
	if len(vs.TCP) == 0 {
		return
	}
	b.refuseMeshL4(d, "spec.tcp", "TCP")
	for i, r := range vs.TCP {
		for j, m := range r.Match {
			b.refuseL4Source(d, fmt.Sprintf("spec.tcp[%d].match[%d]", i, j), m.DestinationSubnets, m.SourceLabels, m.SourceNamespace, m.SourceSubnet)
		}
	}
}

// refuseMeshL4 refuses routes of a connection protocol (what) bound to the mesh.
func (b *builder) refuseMeshL4(d *schema.Document, field, what string) {
	if slices.Contains(boundGateways(d), meshGateway) {
		b.unsupportedf(d, field, "only gateways route %s: signalbox sidecars have one HTTP outbound listener; bind the VirtualService to Gateways with spec.gateways, without mesh", what)
	}
}

// refuseL4Source refuses the parts of a tcp or tls match that select connections by address
// or source workload, which a gateway listener taking every connection on its port cannot.
func (b *builder) refuseL4Source(d *schema.Document, p string, destinationSubnets []string, sourceLabels map[string]string, sourceNamespace, sourceSubnet string) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"destinationSubnets", len(destinationSubnets) > 0},
		{"sourceLabels", len(sourceLabels) > 0},
		{"sourceNamespace", sourceNamespace != ""},
		{"sourceSubnet", sourceSubnet != ""},
	} {
		if f.set {
			b.unsupported(d, p+"."+f.name)
		}
	}
}
