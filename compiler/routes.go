package compiler

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// vhostCtx says where routes are installed: a destination without a port on a service with
// several ports takes the virtual host's port when it is the same service, as Istio does; a
// match on a port applies only when the listener (or service) port is that port.
type vhostCtx struct {
	host string
	port uint32 // 0: any port (a host that is not a service)
	// gateway is the one the routes are built for: "mesh" for sidecars, or "namespace/name";
	// a match block naming other gateways does not apply.
	gateway string
	// tls: the routes serve a gateway server with a tls block, whose redirects Istio takes
	// to be https unless they set a scheme.
	tls bool
}

// routesFor translates the http rules of one VirtualService into ordered routes, with
// delegated rules merged in place of the rule that delegates (as Istio does).
func (b *builder) routesFor(d *schema.Document, gateway, vhostHost string, vhostPort uint32, tls bool) []*ir.Route {
	ctx := vhostCtx{host: vhostHost, port: vhostPort, gateway: gateway, tls: tls}
	var routes []*ir.Route
	for _, r := range b.effectiveRules(d) {
		rs, catchAll := b.translateRule(r, ctx)
		routes = append(routes, rs...)
		if catchAll {
			break // Istio stops there: nothing after a catch-all can match
		}
	}
	return routes
}

// isCatchAll is Istio's IsCatchAllRoute: a prefix "/" (or regex "*") path and nothing else.
func isCatchAll(m ir.Match) bool {
	path := m.Path.Kind == "" || m.Path.Kind == ir.MatchPrefix && m.Path.Value == "/" || m.Path.Kind == ir.MatchRegex && m.Path.Value == "*"
	return path && len(m.Headers) == 0 && len(m.QueryParams) == 0
}

// rule is one http rule as it is compiled: the document it comes from (for positions and
// namespace), its path there, and its (possibly merged) value.
type rule struct {
	doc  *schema.Document
	path string
	http schema.HTTPRoute
	// name is the default route name when the rule has none.
	name string
}

// translateRule returns the routes of one rule, and whether the last is a catch-all.
func (b *builder) translateRule(r rule, ctx vhostCtx) ([]*ir.Route, bool) {
	d, path, in := r.doc, r.path, r.http
	b.pendingDests = nil
	defer func() { b.pendingDests = nil }()
	base := &ir.Route{}
	var authority string
	if in.Headers != nil {
		base.RequestHeaders, authority = headerOps(in.Headers.Request)
		base.ResponseHeaders, _ = headerOps(in.Headers.Response)
	}
	switch {
	case in.Redirect != nil:
		base.Redirect = b.redirect(d, path+".redirect", in.Redirect, ctx.port, ctx.tls)
	case in.DirectResponse != nil:
		base.DirectResponse = b.directResponse(d, path+".directResponse", in.DirectResponse)
	default:
		clusters, ok := b.destinations(d, path, in.Route, ctx.host, ctx.port)
		if !ok {
			return nil, false
		}
		base.Clusters = clusters
		b.forwarding(d, path, in, base, authority)
	}
	// A lone destination's header operations go on the route, as Istio puts them; its Host
	// applies unless the rule rewrites the authority itself.
	if len(base.Clusters) == 1 {
		c := &base.Clusters[0]
		base.RequestHeaders = mergeOps(base.RequestHeaders, c.RequestHeaders)
		base.ResponseHeaders = mergeOps(base.ResponseHeaders, c.ResponseHeaders)
		if c.HostRewrite != "" && (base.Rewrite == nil || base.Rewrite.Authority == "") {
			if base.Rewrite == nil {
				base.Rewrite = &ir.Rewrite{}
			}
			base.Rewrite.Authority = c.HostRewrite
		}
		c.RequestHeaders, c.ResponseHeaders, c.HostRewrite = ir.HeaderOps{}, ir.HeaderOps{}, ""
	}
	if in.Fault != nil {
		base.Fault = b.fault(d, path+".fault", in.Fault)
	}
	if in.CorsPolicy != nil {
		base.CORS = b.cors(d, path+".corsPolicy", in.CorsPolicy)
	}
	name := in.Name
	if name == "" {
		name = r.name
	}
	if len(in.Match) == 0 {
		base.Name = name
		b.recordDests(base)
		return []*ir.Route{base}, true
	}
	// Match blocks are ORed: one Envoy route each, in order, as Istio emits them. A block for
	// another port, or for other gateways, does not apply here.
	var routes []*ir.Route
	for j, m := range in.Match {
		if m.Port != 0 && ctx.port != 0 && m.Port != ctx.port {
			continue
		}
		if len(m.Gateways) > 0 && !slices.Contains(schema.BoundGateways(d.Namespace, m.Gateways), ctx.gateway) {
			continue
		}
		rt := *base
		rt.Name = name
		if len(in.Match) > 1 {
			rt.Name = name + "." + strconv.Itoa(j)
		}
		rt.Match = b.translateMatch(d, fmt.Sprintf("%s.match[%d]", path, j), m)
		rt.Source = source(m)
		routes = append(routes, &rt)
		b.recordDests(&rt)
		// A catch-all for some proxies only ends the rules for those: the others go on to
		// the next block, as Istio builds them.
		if isCatchAll(rt.Match) && rt.Source == nil {
			return routes, true
		}
	}
	return routes, false
}

// destinations resolves the weighted destinations of one rule to clusters. Weights are relative;
// a lone destination without a weight takes everything; zero weights are dropped.
func (b *builder) destinations(d *schema.Document, rulePath string, dests []schema.HTTPRouteDestination, vhostHost string, vhostPort uint32) ([]ir.WeightedCluster, bool) {
	var out []ir.WeightedCluster
	ok := true
	if len(dests) == 0 {
		b.errorf(d, rulePath, "a rule needs a route, a redirect, a directResponse or a delegate")
		return nil, false
	}
	for k, rd := range dests {
		path := fmt.Sprintf("%s.route[%d]", rulePath, k)
		name, good := b.resolveDestination(d, path+".destination", rd.Destination, vhostHost, vhostPort)
		if !good {
			ok = false
			continue
		}
		w := uint32(100)
		if rd.Weight != nil {
			w = uint32(max(*rd.Weight, 0))
		} else if len(dests) > 1 {
			w = 0
		}
		if w == 0 {
			continue
		}
		wc := ir.WeightedCluster{Name: name, Weight: w}
		if rd.Headers != nil {
			wc.RequestHeaders, wc.HostRewrite = headerOps(rd.Headers.Request)
			wc.ResponseHeaders, _ = headerOps(rd.Headers.Response)
		}
		out = append(out, wc)
	}
	if ok && len(out) == 0 {
		b.errorf(d, rulePath+".route", "every destination has weight 0: no traffic could be routed")
		return nil, false
	}
	return out, ok
}

func (b *builder) resolveDestination(d *schema.Document, path string, dst schema.Destination, vhostHost string, vhostPort uint32) (string, bool) {
	host := expandHost(dst.Host, d.Namespace)
	svc, ok := b.services[host]
	if !ok {
		b.errorf(d, path+".host", "destination host %q is not declared by any ServiceEntry or Service", host)
		return "", false
	}
	var port uint32
	// A host several namespaces declare has the ports of all its entries; where the route
	// applies, the entry proxies see there must have the port (checkEntryPorts).
	ports := svc.allPorts()
	switch {
	case dst.Port != nil && dst.Port.Number != 0:
		if !svc.hasAnyPort(dst.Port.Number) {
			b.errorf(d, path+".port.number", "service %q has no port %d", host, dst.Port.Number)
			return "", false
		}
		port = dst.Port.Number
	case len(ports) == 1:
		port = ports[0]
	case host == vhostHost && slices.Contains(ports, vhostPort):
		port = vhostPort
	case len(ports) == 0:
		b.errorf(d, path+".host", "service %q declares no ports", host)
		return "", false
	default:
		b.errorf(d, path, "destination.port is required: service %q has several ports", host)
		return "", false
	}
	if dst.Subset != "" && !svc.hasSubset(dst.Subset) {
		b.errorf(d, path+".subset", "subset %q of host %q is not defined by any DestinationRule", dst.Subset, host)
		return "", false
	}
	name := clusterName(port, dst.Subset, host)
	b.pendingDests = append(b.pendingDests, destRef{doc: d, path: path + ".host", host: host, cluster: name, subset: dst.Subset, port: port})
	return name, true
}
