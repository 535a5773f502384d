package compiler

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// certGroups gathers a gateway role's HTTP servers per port and, within a port, per TLS
// setting. Servers sharing a port and its TLS share one listener and route table, as before;
// a port whose HTTPS servers present different certificates gets one listener per setting,
// under the same name, each selected by the server names of its servers' hosts (Istio gives
// each such server a filter chain matched by SNI and a route table of its own, so a request
// reaches only the hosts of the server whose certificate the client accepted). The xDS stage
// merges listeners of one name into one Envoy listener with a chain each.
type certGroups map[string][]*certGroup

type certGroup struct {
	l *ir.Listener
	// routeName is the group's route table when the port has several groups: Istio's name for
	// its first server's routes, https.PORT.PORTNAME.GATEWAY.NAMESPACE.
	routeName string
	names     []string // server names, "*" for any
}

// listenerFor returns the listener of srv's TLS setting on its port, nil (after an error) when
// srv cannot share the port: plain HTTP beside HTTPS, or a host another setting serves.
func (c certGroups) listenerFor(b *builder, g *schema.Document, path string, srv schema.Server, name, bind string, tls *ir.ServerTLS) *ir.Listener {
	groups := c[name]
	var grp *certGroup
	for _, x := range groups {
		if reflect.DeepEqual(x.l.TLS, tls) {
			grp = x
		}
	}
	if grp == nil && len(groups) > 0 && (tls == nil || groups[0].l.TLS == nil) {
		b.errorf(g, path, "port %d serves both plain HTTP and HTTPS: a port is either", srv.Port.Number)
		return nil
	}
	names := serverNames(srv.Hosts)
	for _, x := range groups {
		if x == grp {
			continue
		}
		for _, n := range names {
			if slices.Contains(x.names, n) {
				b.errorf(g, path+".hosts", "host %q on port %d is already served with other TLS settings: the certificate is chosen by the server name, so each name can have one",
					n, srv.Port.Number)
				return nil
			}
		}
	}
	if grp == nil {
		port := itoa(srv.Port.Number)
		grp = &certGroup{
			l:         &ir.Listener{Name: name, Address: bind, Port: srv.Port.Number, RouteName: "http." + port, TLS: tls},
			routeName: fmt.Sprintf("https.%s.%s.%s.%s", port, srv.Port.Name, g.Name, g.Namespace),
		}
		c[name] = append(groups, grp)
	}
	for _, n := range names {
		if !slices.Contains(grp.names, n) {
			grp.names = append(grp.names, n)
		}
	}
	return grp.l
}

// listeners returns every group's listener; on a port with several groups, or whose other
// server names are passed through (passesThrough), each has its own route table and the
// server names selecting it ("*" among them: the chain for any name).
func (c certGroups) listeners(passesThrough func(name string) bool) []*ir.Listener {
	var out []*ir.Listener
	for _, name := range sortedKeys(c) {
		groups := c[name]
		for _, grp := range groups {
			if len(groups) > 1 || passesThrough(name) {
				grp.l.RouteName = grp.routeName
				if !slices.Contains(grp.names, "*") {
					grp.l.ServerNames = slices.Clone(grp.names)
				}
			}
			out = append(out, grp.l)
		}
	}
	return out
}

// serverNames are the SNI names of a server's hosts: without their namespace part, "*" for
// a host that is any.
func serverNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if _, after, ok := strings.Cut(h, "/"); ok {
			h = after
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// plainText says the port serves plain HTTP (a group without TLS).
func (c certGroups) plainText(name string) bool {
	groups := c[name]
	return len(groups) > 0 && groups[0].l.TLS == nil
}

// names lists the server names the port's HTTPS servers terminate TLS for ("*": any other).
func (c certGroups) names(name string) []string {
	var out []string
	for _, grp := range c[name] {
		out = append(out, grp.names...)
	}
	return out
}
