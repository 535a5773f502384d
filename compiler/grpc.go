package compiler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// grpcRole is what proxyless gRPC clients read, as Istio serves them: for every service port a
// Listener named "host:port" (the target's authority) carrying an api_listener whose routes come
// by RDS under the same name, and the clusters those routes use. The routes are the sidecar's
// for that host and port, minus what gRPC has no use for (CORS). Clusters of services resolved
// by DNS take the form gRPC clients can read (grpcCluster); a service whose endpoints fit none
// is left out with the listeners whose routes send to it, and a warning says so, so that no
// route a gRPC client is served names a cluster it is not sent.
func (b *builder) grpcRole(sidecar *ir.Role) *ir.Role {
	role := &ir.Role{Name: GRPCRole}
	unserved := map[string]*ir.Cluster{} // by name: a variant gRPC clients cannot be served
	var dropped []*ir.Cluster            // hostname endpoints left out of an EDS form
	forms := make([]*ir.Cluster, len(sidecar.Clusters))
	for i, c := range sidecar.Clusters {
		gc, left := grpcCluster(c)
		forms[i] = gc
		switch {
		case gc == nil:
			unserved[c.Name] = c
		case left:
			dropped = append(dropped, c)
		}
	}
	for i, c := range sidecar.Clusters {
		if _, ok := unserved[c.Name]; ok {
			continue // every variant of the name, so that no namespace is served a route to it
		}
		role.Clusters = append(role.Clusters, forms[i])
	}
	blocked := map[string][]string{} // unserved cluster name -> listeners left out for it
	for _, l := range sidecar.Listeners {
		for _, vh := range l.VirtualHosts {
			if len(vh.Domains) == 0 || vh.Domains[0] != vh.Name || !isHostPort(vh.Name) {
				continue // a host that is not a service port: no gRPC target names it
			}
			if names := unservedDestinations(vh, unserved); len(names) > 0 {
				for _, n := range names {
					blocked[n] = append(blocked[n], vh.Name)
				}
				continue
			}
			gv := vh // shared with the sidecar, and so built once, unless it must differ
			if slices.ContainsFunc(vh.Routes, func(r *ir.Route) bool { return r.CORS != nil || unservedMirror(r, unserved) }) {
				gv = &ir.VirtualHost{Name: vh.Name, Domains: vh.Domains}
				for _, r := range vh.Routes {
					rc := *r
					rc.CORS = nil
					// gRPC clients mirror nothing (grpc-go reads no request_mirror_policies), so
					// a mirror to a service they cannot be served costs them nothing.
					rc.Mirrors = slices.DeleteFunc(slices.Clone(r.Mirrors), func(m ir.Mirror) bool { return unserved[m.Cluster] != nil })
					gv.Routes = append(gv.Routes, &rc)
				}
			}
			gl := &ir.Listener{Name: vh.Name, API: true, RouteName: vh.Name, VirtualHosts: []*ir.VirtualHost{gv},
				Proxyless: true, Sidecars: l.Sidecars}
			listenerFilters(gl)
			role.Listeners = append(role.Listeners, gl)
		}
	}
	b.warnGRPCUnserved(unserved, blocked, dropped)
	return role
}

// grpcCluster is cluster c as proxyless gRPC clients are served it, nil when they can read no
// form of it; left reports hostname endpoints it leaves out.
//
// Istio's proxyless generator (pilot/pkg/networking/grpcgen/cds.go) serves every service port,
// DNS-resolved ones too, as an EDS cluster, and its EDS (pilot/pkg/xds/endpoints,
// BuildClusterLoadAssignment) drops endpoints whose address is not an IP ("mostly domain name
// ... generated from ServiceEntry"). signalbox does the same where that leaves the client
// something to call: a DNS service whose endpoints are addresses becomes an EDS cluster of
// them, and one that also has host names keeps its addresses, without the names. Where
// Istio's EDS would be empty, because the one endpoint is a host name (a ServiceEntry with
// resolution DNS and no endpoints resolves its own host), signalbox goes further than Istio:
// gRPC's LOGICAL_DNS cluster (gRFC A37, which grpc-go, grpc-js and C-core implement) resolves
// exactly one name and port, so the client resolves it itself and connects to the addresses it
// gets in order, where Envoy's STRICT_DNS balances over them. Several host names and no address
// fit neither form: gRPC accepts no STRICT_DNS cluster and a LOGICAL_DNS one of one name only.
func grpcCluster(c *ir.Cluster) (gc *ir.Cluster, left bool) {
	if c.Discovery != ir.DiscoveryStrictDNS && c.Discovery != ir.DiscoveryLogicalDNS {
		return c, false
	}
	var addrs, names []ir.Endpoint
	for _, ep := range c.Endpoints {
		if _, err := netip.ParseAddr(ep.Address); err == nil {
			addrs = append(addrs, ep)
		} else {
			names = append(names, ep)
		}
	}
	cc := *c
	switch {
	case len(names) == 1 && len(addrs) == 0:
		cc.Discovery = ir.DiscoveryLogicalDNS
		return &cc, false
	case len(names) > 1 && len(addrs) == 0:
		return nil, false
	}
	cc.Discovery, cc.Endpoints = ir.DiscoveryEDS, addrs
	return &cc, len(names) > 0
}

// unservedDestinations are the clusters of unserved that a route of vh sends requests to.
func unservedDestinations(vh *ir.VirtualHost, unserved map[string]*ir.Cluster) []string {
	var out []string
	for _, r := range vh.Routes {
		for _, wc := range r.Clusters {
			if unserved[wc.Name] != nil && !slices.Contains(out, wc.Name) {
				out = append(out, wc.Name)
			}
		}
	}
	return out
}

func unservedMirror(r *ir.Route, unserved map[string]*ir.Cluster) bool {
	return slices.ContainsFunc(r.Mirrors, func(m ir.Mirror) bool { return unserved[m.Cluster] != nil })
}

// warnGRPCUnserved tells, at the service's resolution, which of its ports proxyless gRPC
// clients cannot call (and which other services' listeners go with them), and which host name
// endpoints they are not sent. One warning per service, as a port or subset more says nothing
// new.
func (b *builder) warnGRPCUnserved(unserved map[string]*ir.Cluster, blocked map[string][]string, dropped []*ir.Cluster) {
	type what struct {
		ports, listeners, names []string
	}
	bySvc := map[*service]*what{}
	var order []*service
	at := func(c *ir.Cluster) *what {
		svc := b.services[c.Host]
		if e := b.clusterEntry[c]; e != nil {
			svc = e
		}
		if svc == nil {
			return nil
		}
		w := bySvc[svc]
		if w == nil {
			w = &what{}
			bySvc[svc] = w
			order = append(order, svc)
		}
		return w
	}
	for _, name := range slices.Sorted(maps.Keys(unserved)) {
		c := unserved[name]
		if len(blocked[name]) == 0 {
			continue // no listener lost (a port gRPC has none for, a subset no route uses)
		}
		w := at(c)
		if w == nil {
			continue
		}
		if p := strconv.Itoa(int(c.Port)); !slices.Contains(w.ports, p) {
			w.ports = append(w.ports, p)
		}
		for _, l := range blocked[name] {
			if !strings.HasPrefix(l, c.Host+":") && !slices.Contains(w.listeners, l) {
				w.listeners = append(w.listeners, l)
			}
		}
	}
	for _, c := range dropped {
		w := at(c)
		if w == nil {
			continue
		}
		for _, ep := range c.Endpoints {
			if _, err := netip.ParseAddr(ep.Address); err != nil && !slices.Contains(w.names, ep.Address) {
				w.names = append(w.names, ep.Address)
			}
		}
	}
	for _, svc := range order {
		w := bySvc[svc]
		path := "spec.resolution"
		if svc.doc.Kind != schema.KindServiceEntry {
			path = "spec"
		}
		if len(w.ports) > 0 {
			also := ""
			if len(w.listeners) > 0 {
				slices.Sort(w.listeners)
				also = fmt.Sprintf(", nor %s, whose routes send to it", strings.Join(w.listeners, ", "))
			}
			b.warnf(svc.doc, path, "proxyless gRPC clients cannot call %s (port %s): its endpoints are several host names, which gRPC resolves only one of per cluster (LOGICAL_DNS; it reads no STRICT_DNS cluster), so the grpc role serves no listener for it%s; give it a single host name endpoint, or addresses, for gRPC clients to reach it",
				svc.host, strings.Join(w.ports, ", "), also)
		}
		if len(w.names) > 0 {
			slices.Sort(w.names)
			b.warnf(svc.doc, path, "proxyless gRPC clients are sent the address endpoints of %s only, not its host name endpoints %s, as Istio's EDS leaves out endpoints that are not IP addresses",
				svc.host, strings.Join(w.names, ", "))
		}
	}
}

func isHostPort(s string) bool {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i < len(s)-1
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return false
}

// listenerFilters adds the HTTP filters the listener's routes need, in Istio's order.
func listenerFilters(l *ir.Listener) {
	var cors, fault bool
	for _, vh := range l.VirtualHosts {
		for _, r := range vh.Routes {
			cors = cors || r.CORS != nil
			fault = fault || r.Fault != nil
		}
	}
	l.Filters = nil
	if cors {
		l.Filters = append(l.Filters, ir.FilterCORS)
	}
	if fault {
		l.Filters = append(l.Filters, ir.FilterFault)
	}
}
