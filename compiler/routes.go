package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// routesFor translates the http rules of one VirtualService into ordered routes. vhostHost and
// vhostPort say where the routes are installed: a destination without a port on a service with
// several ports takes the virtual host's port when it is the same service, as Istio does.
func (b *builder) routesFor(d *schema.Document, vhostHost string, vhostPort uint32) []*ir.Route {
	vs := d.Spec.(*schema.VirtualService)
	var routes []*ir.Route
	for i, rule := range vs.HTTP {
		path := fmt.Sprintf("spec.http[%d]", i)
		clusters, ok := b.destinations(d, path, rule.Route, vhostHost, vhostPort)
		if !ok {
			continue
		}
		name := rule.Name
		if name == "" {
			name = d.Namespace + "/" + d.Name + "." + strconv.Itoa(i)
		}
		if len(rule.Match) == 0 {
			routes = append(routes, &ir.Route{Name: name, Clusters: clusters})
			continue
		}
		// Match blocks are ORed: one Envoy route each, in order, as Istio emits them.
		for j, m := range rule.Match {
			rn := name
			if len(rule.Match) > 1 {
				rn = name + "." + strconv.Itoa(j)
			}
			routes = append(routes, &ir.Route{Name: rn, Match: translateMatch(m), Clusters: clusters})
		}
	}
	return routes
}

func translateMatch(m schema.HTTPMatchRequest) ir.Match {
	var out ir.Match
	if m.URI != nil {
		out.Path = stringMatch(*m.URI)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Headers)) {
		out.Headers = append(out.Headers, ir.HeaderMatch{Name: name, Match: stringMatch(m.Headers[name])})
	}
	return out
}

func stringMatch(s schema.StringMatch) ir.StringMatch {
	switch {
	case s.Exact != "":
		return ir.StringMatch{Kind: ir.MatchExact, Value: s.Exact}
	case s.Regex != "":
		return ir.StringMatch{Kind: ir.MatchRegex, Value: s.Regex}
	default:
		return ir.StringMatch{Kind: ir.MatchPrefix, Value: s.Prefix}
	}
}

// destinations resolves the weighted destinations of one rule to clusters. Weights are relative;
// a lone destination without a weight takes everything; zero weights are dropped.
func (b *builder) destinations(d *schema.Document, rulePath string, dests []schema.HTTPRouteDestination, vhostHost string, vhostPort uint32) ([]ir.WeightedCluster, bool) {
	var out []ir.WeightedCluster
	ok := true
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
		out = append(out, ir.WeightedCluster{Name: name, Weight: w})
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
		b.errorf(d, path+".host", "destination host %q is not declared by any ServiceEntry", host)
		return "", false
	}
	var port uint32
	ports := svc.sortedPorts()
	switch {
	case dst.Port != nil && dst.Port.Number != 0:
		if _, ok := svc.port(dst.Port.Number); !ok {
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
	return clusterName(port, dst.Subset, host), true
}
