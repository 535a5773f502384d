package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// sharesPort says servers of kinds a and b may share a port: HTTP servers with each other,
// TLS passthrough with passthrough or with HTTPS (filter chains chosen by SNI; plainText and
// terminableBeside refuse plain HTTP there), a TCP server with none.
func sharesPort(a, b serverKind) bool {
	return a != tcpServerKind && b != tcpServerKind
}

// terminableBeside says an HTTP server may join a port whose other names are passed through:
// it must terminate TLS (plain HTTP carries no server name to choose by), and none of its
// hosts may be one a passthrough route already takes.
func (b *builder) terminableBeside(g *schema.Document, path string, srv schema.Server, tls *ir.ServerTLS, pt *ir.Listener) bool {
	if tls == nil {
		b.errorf(g, path, "port %d passes TLS through: plain HTTP cannot share it (the server name is read from the TLS handshake)", srv.Port.Number)
		return false
	}
	for _, n := range serverNames(srv.Hosts) {
		for _, r := range pt.Passthrough {
			if slices.Contains(r.ServerNames, n) || (n == "*" && len(r.ServerNames) == 0) {
				b.errorf(g, path+".hosts", "host %q on port %d is already passed through by a tls route: a server name is either terminated or passed through", n, srv.Port.Number)
				return false
			}
		}
	}
	return true
}

// isPassthrough says a Gateway server forwards TLS without terminating it: mode PASSTHROUGH
// on a TLS or HTTPS server (Istio's "ingress gateway without TLS termination" uses HTTPS).
func isPassthrough(srv schema.Server) bool {
	return srv.TLS != nil && srv.TLS.Mode == "PASSTHROUGH" && (srv.Port.Protocol == "TLS" || srv.Port.Protocol == "HTTPS")
}

// sniRoutes adds to l the SNI routes of a PASSTHROUGH server, as Istio's
// buildGatewayNetworkFiltersFromTLSRoutes does: for each VirtualService bound to the gateway
// (tree order) whose hosts the server admits, each tls route's match for this port and gateway
// becomes a filter chain for its sniHosts, sending connections to the route's destinations.
// Envoy refuses two chains for one server name, so a match naming a server name already routed
// on the port is left out, as Istio leaves it out, here with a warning. seen maps the server
// names routed so far on the port to where; added holds the matches already made into chains
// (another server on the port may admit the same VirtualService). It returns how many chains
// this server added.
func (b *builder) sniRoutes(srv schema.Server, ref string, l *ir.Listener, seen map[string]string, added map[string]bool, used map[string]bool) int {
	n := 0
	for _, d := range b.docs(schema.KindVirtualService) {
		vs := d.Spec.(*schema.VirtualService)
		if len(vs.TLS) == 0 || !slices.Contains(boundGateways(d), ref) || !serverAdmits(srv, ref, d, vs.Hosts) {
			continue
		}
		for i, r := range vs.TLS {
			if len(r.Route) == 0 {
				continue
			}
			for j, m := range r.Match {
				if !l4Matches(d, []schema.L4MatchAttributes{{Port: m.Port, Gateways: m.Gateways}}, srv.Port.Number, ref) {
					continue
				}
				path := fmt.Sprintf("spec.tls[%d].match[%d]", i, j)
				key := d.Namespace + "/" + d.Name + "#" + path
				if added[key] {
					continue
				}
				added[key] = true
				if b.sniTaken(d, path, m.SNIHosts, srv.Port.Number, seen) {
					continue
				}
				t, ok := b.tcpProxy(d, fmt.Sprintf("spec.tls[%d]", i), r.Route, ref)
				if !ok {
					continue
				}
				names := slices.Clone(m.SNIHosts)
				if slices.Contains(names, "*") {
					// Every server name, and none: Envoy has no "*" server name, only a chain
					// without server names, which also takes connections without SNI.
					names = []string{"*"}
				}
				for _, h := range names {
					seen[h] = fmt.Sprintf("VirtualService %s/%s (%s)", d.Namespace, d.Name, path)
				}
				if names[0] == "*" {
					names = nil
				}
				l.Passthrough = append(l.Passthrough, &ir.SNIRoute{ServerNames: names, TCP: t})
				markTCPClusters(t, used)
				n++
			}
		}
	}
	return n
}

// sniTaken warns about, and reports, server names of a match that an earlier route on the
// port already claims.
func (b *builder) sniTaken(d *schema.Document, path string, hosts []string, port uint32, seen map[string]string) bool {
	taken := false
	for k, h := range hosts {
		if prev, ok := seen[h]; ok {
			b.warnf(d, fmt.Sprintf("%s.sniHosts[%d]", path, k),
				"server name %q on port %d is already routed by %s: this match is left out, as Istio leaves it out", h, port, prev)
			taken = true
		}
	}
	return taken
}

// serverAdmits says one of a VirtualService's hosts is among a Gateway server's, for the
// server of gateway ("namespace/name").
func serverAdmits(srv schema.Server, gateway string, d *schema.Document, hosts []string) bool {
	gwNamespace, _, _ := strings.Cut(gateway, "/")
	return slices.ContainsFunc(hosts, func(h string) bool {
		h = expandHost(h, d.Namespace)
		return slices.ContainsFunc(srv.Hosts, func(p string) bool { return serverHostAdmits(p, gwNamespace, d.Namespace, h) })
	})
}

func markTCPClusters(t *ir.TCPProxy, used map[string]bool) {
	if t.Cluster != "" {
		used[t.Cluster] = true
	}
	for _, c := range t.Clusters {
		used[c.Name] = true
	}
}

// checkTLSRoutes reports what signalbox cannot do with a VirtualService's tls routes, as
// checkTCPRoutes does for tcp routes.
func (b *builder) checkTLSRoutes(d *schema.Document, vs *schema.VirtualService) {
	if len(vs.TLS) == 0 {
		return
	}
	b.refuseMeshL4(d, "spec.tls", "TLS by SNI")
	for i, r := range vs.TLS {
		for j, m := range r.Match {
			b.refuseL4Source(d, fmt.Sprintf("spec.tls[%d].match[%d]", i, j), m.DestinationSubnets, m.SourceLabels, m.SourceNamespace, "")
		}
	}
}
