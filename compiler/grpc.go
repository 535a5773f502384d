package compiler

import (
	"slices"

	"github.com/signalbox/signalbox/compiler/ir"
)

// grpcRole is what proxyless gRPC clients read, as Istio serves them: for every service port a
// Listener named "host:port" (the target's authority) carrying an api_listener whose routes come
// by RDS under the same name, and the clusters those routes use. The routes are the sidecar's
// for that host and port, minus what gRPC has no use for (CORS). STRICT_DNS clusters are left
// out: gRPC clients resolve DNS themselves only for LOGICAL_DNS.
func grpcRole(sidecar *ir.Role) *ir.Role {
	role := &ir.Role{Name: GRPCRole}
	for _, l := range sidecar.Listeners {
		for _, vh := range l.VirtualHosts {
			if len(vh.Domains) == 0 || vh.Domains[0] != vh.Name || !isHostPort(vh.Name) {
				continue // a host that is not a service port: no gRPC target names it
			}
			gv := vh // shared with the sidecar, and so built once, unless it must differ
			if slices.ContainsFunc(vh.Routes, func(r *ir.Route) bool { return r.CORS != nil }) {
				gv = &ir.VirtualHost{Name: vh.Name, Domains: vh.Domains}
				for _, r := range vh.Routes {
					rc := *r
					rc.CORS = nil
					gv.Routes = append(gv.Routes, &rc)
				}
			}
			gl := &ir.Listener{Name: vh.Name, API: true, RouteName: vh.Name, VirtualHosts: []*ir.VirtualHost{gv},
				Proxyless: true, Sidecars: l.Sidecars}
			listenerFilters(gl)
			role.Listeners = append(role.Listeners, gl)
		}
	}
	for _, c := range sidecar.Clusters {
		if c.Discovery != ir.DiscoveryStrictDNS {
			role.Clusters = append(role.Clusters, c)
		}
	}
	return role
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
