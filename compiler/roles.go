package compiler

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// meshGateway is Istio's reserved gateway name for sidecars.
const meshGateway = schema.MeshGateway

// boundGateways normalizes a VirtualService's gateways (schema.BoundGateways).
func boundGateways(d *schema.Document) []string {
	return schema.BoundGateways(d.Namespace, d.Spec.(*schema.VirtualService).Gateways)
}

// vsClaim is a VirtualService host installed on a listener.
type vsClaim struct {
	doc  *schema.Document
	host string
	// exportedTo are the namespaces whose proxies see the VirtualService (its exportTo, "."
	// resolved); nil: every namespace.
	exportedTo []string
}

// sidecarRole builds the outbound listener: a virtual host per service port (falling back to
// the service's endpoints) and one per other host a mesh VirtualService names.
func (b *builder) sidecarRole(clusters []*ir.Cluster) *ir.Role {
	addr := b.tree.Settings.SidecarListener
	if addr == "" {
		addr = schema.DefaultSidecarListener
	}
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err != nil || perr != nil {
		b.findings = append(b.findings, schema.Finding{Pos: schema.Pos{File: "signalbox.yaml"}, Severity: schema.SeverityError,
			Message: fmt.Sprintf("sidecarListener: %q is not host:port", addr)})
		return nil
	}
	claims := b.claims(func(g string) bool { return g == meshGateway }, false, nil)
	scopes := b.sidecarScopes()
	vis := b.visibilityOf(scopes)
	b.markVisible(clusters, vis)
	l := &ir.Listener{Name: listenerName(host, uint32(port)), Address: host, Port: uint32(port), RouteName: "outbound",
		Sidecars: sidecarIR(scopes)}
	for _, h := range sortedKeys(b.services) {
		svc := b.services[h]
		if svc.entries != nil {
			b.checkHostEntries(svc, vis)
		}
		for i, p := range svc.allPorts() {
			// The proxies that see the service on this port: its ServiceEntry's exportTo or,
			// for a host several namespaces declare, those whose entry has the port.
			exported, _ := svc.portNamespaces(p)
			if exportedNowhere(exported) {
				continue // no proxy sees it (checkServiceEntryExportTo warns)
			}
			vh := &ir.VirtualHost{Name: h + ":" + itoa(p)}
			// An ExternalName Service aliasing the service is answered alike, as Istio's
			// generateVirtualHostDomains (pilot/pkg/networking/core/route/route.go) lists
			// each alias with the same port and short names beside the service's host.
			for _, a := range append([]string{h}, svc.aliases...) {
				vh.Domains = append(vh.Domains, a+":"+itoa(p))
				for _, s := range shortNames(a) {
					vh.Domains = append(vh.Domains, s+":"+itoa(p))
				}
			}
			if i == 0 {
				for _, a := range append([]string{h}, svc.aliases...) {
					vh.Domains = append(vh.Domains, a)
					vh.Domains = append(vh.Domains, shortNames(a)...)
				}
			}
			if cs := claims[h]; len(cs) > 0 {
				seen := len(b.findings)
				vh.Routes = b.sidecarClaimRoutes(cs, vis, h, p)
				if !schema.HasErrors(b.findings[seen:]) {
					vh.Routes = withFallback(vh.Routes, func() *ir.Route { return b.defaultRoute(clusterName(p, "", h)) })
				}
				if vis != nil {
					for _, r := range vh.Routes {
						if r.Source != nil && r.Source.Fallback {
							limitToSidecars([]*ir.Route{r}, vis.ofHost(svc))
						}
					}
				}
			} else {
				vh.Routes = []*ir.Route{b.defaultRoute(clusterName(p, "", h))}
				if vis != nil {
					limitToSidecars(vh.Routes, vis.ofHost(svc))
				}
			}
			vh.Routes = onlyForNamespaces(vh.Routes, exported)
			vis.narrow(vh.Routes)
			b.checkDestinationExports(vh.Routes, nil)
			l.VirtualHosts = append(l.VirtualHosts, vh)
		}
	}
	for _, h := range sortedKeys(claims) {
		if _, isService := b.services[h]; isService {
			continue
		}
		if target := b.aliasOf(h); target != "" {
			// Istio matches the alias on its target's routes only; a VirtualService for the
			// alias host no longer applies (ENABLE_EXTERNAL_NAME_ALIAS).
			for _, c := range claims[h] {
				i := slices.IndexFunc(c.doc.Spec.(*schema.VirtualService).Hosts, func(x string) bool { return expandHost(x, c.doc.Namespace) == h })
				b.errorf(c.doc, fmt.Sprintf("spec.hosts[%d]", i),
					"host %q is an ExternalName Service, an alias of %q: Istio answers it with the routes of %q and applies no VirtualService for the alias host; name %q here instead", h, target, target, target)
			}
			continue
		}
		vh := &ir.VirtualHost{Name: h, Domains: []string{h}, Routes: b.sidecarClaimRoutes(claims[h], vis, h, 0)}
		for _, p := range b.virtualServiceOnlyPorts(claims[h]) {
			vh.Domains = append(vh.Domains, h+":"+itoa(p))
		}
		vis.narrow(vh.Routes)
		b.checkDestinationExports(vh.Routes, nil)
		l.VirtualHosts = append(l.VirtualHosts, vh)
	}
	sortVirtualHosts(l)
	l.Scoped = scopable(l)
	return b.withProxyHeaders(&ir.Role{Name: SidecarRole, Listeners: []*ir.Listener{l}, Clusters: clusters})
}

// sidecarClaimRoutes are the sidecar's routes for host h from its VirtualServices, each
// limited to the proxies whose Sidecar admits its VirtualService (vis nil: no Sidecar).
func (b *builder) sidecarClaimRoutes(cs []vsClaim, vis *visibility, h string, port uint32) []*ir.Route {
	if vis == nil {
		return b.routesForClaims(cs, meshGateway, port, false)
	}
	var out []*ir.Route
	for _, c := range cs {
		routes := b.routesForClaims([]vsClaim{c}, meshGateway, port, false)
		limitToSidecars(routes, vis.ofVirtualService(c.doc))
		out = append(out, routes...)
	}
	return out
}

// virtualServiceOnlyPorts are the ports a host that only VirtualServices name (no service
// declares it) is reached on, as Istio's sidecar lists it: on each port of the services its
// VirtualServices also name, and on 80 when they name none. A request's Host carrying one of
// these ports ("alias.example.com:80") is routed as the bare name is.
func (b *builder) virtualServiceOnlyPorts(cs []vsClaim) []uint32 {
	var ports []uint32
	for _, c := range cs {
		for _, h := range c.doc.Spec.(*schema.VirtualService).Hosts {
			if svc, ok := b.services[expandHost(h, c.doc.Namespace)]; ok {
				ports = append(ports, svc.allPorts()...)
			}
		}
	}
	if len(ports) == 0 {
		return []uint32{80}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// withFallback completes a service's routes from its VirtualService as Istio's sidecar does:
// a VirtualService that gives a proxy no route leaves the service routed by default. With
// no route for any proxy (every match for another port) that is the default route; when
// every route is for some proxies only, the default route follows them for the others.
func withFallback(routes []*ir.Route, defaultRoute func() *ir.Route) []*ir.Route {
	if len(routes) == 0 {
		return []*ir.Route{defaultRoute()}
	}
	for _, r := range routes {
		if r.Source == nil {
			return routes
		}
	}
	fallback := defaultRoute()
	fallback.Source = &ir.Source{Fallback: true}
	return append(routes, fallback)
}

// claims maps each host to the VirtualServices whose http rules route it on the gateways bound
// accepts. On the mesh, two VirtualServices claiming one host is an error at the second, unless
// no namespace sees both (exportTo): each proxy is then served the one its namespace sees, and
// Istio reports the rest as IST0109. With merges (a Gateway), they are all kept: Istio merges
// the VirtualServices bound to a gateway for one host, their routes one after the other
// (serverVirtualHosts orders them).
//
// admits, when not nil, says whether the gateway takes host h of VirtualService d (a Gateway's
// servers' hosts, with their namespace/ prefixes): a host it does not take is no claim there.
func (b *builder) claims(bound func(gateway string) bool, merges bool, admits func(d *schema.Document, h string) bool) map[string][]vsClaim {
	out := map[string][]vsClaim{}
	for _, d := range b.docs(schema.KindVirtualService) {
		vs := d.Spec.(*schema.VirtualService)
		// A VirtualService with tcp routes alone routes no HTTP host (tcpRouteFor routes it).
		if len(vs.HTTP) == 0 || !slices.ContainsFunc(boundGateways(d), bound) {
			continue
		}
		exported := schema.ExportedTo(d.Namespace, vs.ExportTo)
	hosts:
		for i, h := range vs.Hosts {
			h = expandHost(h, d.Namespace)
			if admits != nil && !admits(d, h) {
				continue
			}
			for _, prev := range out[h] {
				if !merges && schema.SeenTogether(prev.exportedTo, exported) {
					b.errorf(d, fmt.Sprintf("spec.hosts[%d]", i), "host %q is already routed by VirtualService %s/%s at %s",
						h, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
					continue hosts
				}
			}
			out[h] = append(out[h], vsClaim{doc: d, host: h, exportedTo: exported})
		}
	}
	return out
}

// routesForClaims is the routes of a virtual host's VirtualServices, in the order they were
// declared, each one's routes for the proxies of the namespaces it is exported to.
func (b *builder) routesForClaims(cs []vsClaim, gateway string, port uint32, tls bool) []*ir.Route {
	var out []*ir.Route
	for _, c := range cs {
		routes := b.routesFor(c.doc, gateway, c.host, port, tls)
		if c.exportedTo != nil {
			for _, r := range routes {
				s := ir.Source{}
				if r.Source != nil {
					s = *r.Source
				}
				s.Namespaces = c.exportedTo
				r.Source = &s
			}
		}
		out = append(out, routes...)
	}
	return out
}

// gatewayRoles builds one role per distinct Gateway selector: a listener per server port,
// routing the VirtualServices bound to those Gateways (HTTP servers by their http rules, TCP
// servers by their tcp routes).
func (b *builder) gatewayRoles() []*ir.Role {
	bySelector := map[string][]*schema.Document{}
	for _, d := range b.docs(schema.KindGateway) {
		gw := d.Spec.(*schema.Gateway)
		if len(gw.Selector) == 0 {
			continue
		}
		key := canonicalSelector(gw.Selector)
		bySelector[key] = append(bySelector[key], d)
	}
	var roles []*ir.Role
	for _, key := range sortedKeys(bySelector) {
		roles = append(roles, b.withProxyHeaders(b.gatewayRole(key, bySelector[key])))
	}
	return roles
}

func (b *builder) gatewayRole(key string, gateways []*schema.Document) *ir.Role {
	role := &ir.Role{Name: "gateway/" + key, Selector: gateways[0].Spec.(*schema.Gateway).Selector}
	listeners := map[string]*ir.Listener{}
	// kinds says, per listener name, what the first server on it was: Istio refuses to merge
	// HTTP and TCP servers on one port, and so does signalbox; TLS passthrough servers share a
	// port with each other only (their SNI routes become one listener's filter chains).
	kinds := map[string]serverKind{}
	sniSeen := map[string]map[string]string{}
	sniAdded := map[string]map[string]bool{}
	certs := certGroups{}
	used := map[string]bool{}
	for _, g := range gateways {
		gw := g.Spec.(*schema.Gateway)
		ref := g.Namespace + "/" + g.Name
		claims := b.claims(func(x string) bool { return x == ref }, true, func(d *schema.Document, h string) bool {
			return slices.ContainsFunc(gw.Servers, func(srv schema.Server) bool {
				return slices.ContainsFunc(srv.Hosts, func(p string) bool { return serverHostAdmits(p, g.Namespace, d.Namespace, h) })
			})
		})
		for i, srv := range gw.Servers {
			path := fmt.Sprintf("spec.servers[%d]", i)
			kind, ok := b.checkServer(g, path, srv)
			if !ok {
				continue
			}
			bind := orDefault(srv.Bind, "0.0.0.0")
			name := listenerName(bind, srv.Port.Number)
			if prev, seen := kinds[name]; seen && !sharesPort(prev, kind) {
				b.errorf(g, path, "port %d already has %s server on gateway %s: a port serves HTTP, HTTPS beside TLS passthrough, or one TCP server",
					srv.Port.Number, prev, strings.TrimPrefix(role.Name, "gateway/"))
				continue
			}
			if _, seen := kinds[name]; !seen {
				kinds[name] = kind
			}
			switch kind {
			case tcpServerKind:
				if l := b.tcpServer(g, path, srv, ref); l != nil {
					listeners[name] = l
					markTCPClusters(l.TCP, used)
				}
				continue
			case passthroughServer:
				if certs.plainText(name) {
					b.errorf(g, path, "port %d already serves plain HTTP: TLS passthrough shares a port with HTTPS only (the server name is read from the TLS handshake)", srv.Port.Number)
					continue
				}
				l, ok := listeners[name]
				if !ok {
					l = &ir.Listener{Name: name, Address: bind, Port: srv.Port.Number}
					listeners[name] = l
					sniSeen[name], sniAdded[name] = map[string]string{}, map[string]bool{}
				}
				// Names an HTTPS server on the port terminates are not passed through.
				for _, n := range certs.names(name) {
					if _, ok := sniSeen[name][n]; !ok {
						sniSeen[name][n] = "an HTTPS server of the port, which terminates TLS for it"
					}
				}
				if b.sniRoutes(srv, ref, l, sniSeen[name], sniAdded[name], used) == 0 {
					b.warnf(g, path, "no VirtualService bound to gateway %s has a tls route for port %d and hosts %v: this server routes no connection",
						ref, srv.Port.Number, srv.Hosts)
				}
				continue
			}
			tls, ok := b.serverTLS(g, path+".tls", srv)
			if !ok {
				continue
			}
			if pt := listeners[name]; pt != nil && len(pt.Passthrough) > 0 && !b.terminableBeside(g, path, srv, tls, pt) {
				continue
			}
			l := certs.listenerFor(b, g, path, srv, name, bind, tls)
			if l == nil {
				continue
			}
			redirect := srv.TLS != nil && srv.TLS.HTTPSRedirect
			// The VirtualServices the server's hosts admit (a "namespace/" host takes only that
			// namespace's, as Istio binds them), by the host each is served at.
			served := serverVirtualHosts(claims, srv, g.Namespace)
			for _, h := range sortedKeys(served) {
				cs := served[h]
				vhName := h + ":" + itoa(srv.Port.Number)
				if slices.ContainsFunc(l.VirtualHosts, func(v *ir.VirtualHost) bool { return v.Name == vhName }) {
					continue
				}
				domains := gatewayDomains(h, srv.Port.Number)
				vh := &ir.VirtualHost{Name: vhName, Domains: domains, Routes: b.routesForClaims(cs, ref, srv.Port.Number, srv.TLS != nil), RequireTLS: redirect}
				b.checkDestinationExports(vh.Routes, g)
				for _, r := range vh.Routes {
					for _, c := range r.Clusters {
						used[c.Name] = true
					}
					for _, m := range r.Mirrors {
						used[m.Cluster] = true
					}
				}
				l.VirtualHosts = append(l.VirtualHosts, vh)
			}
		}
	}
	for _, name := range sortedKeys(listeners) {
		if l := listeners[name]; l.TCP == nil && len(l.Passthrough) == 0 {
			continue // as Istio omits a listener without filter chains
		}
		sortVirtualHosts(listeners[name])
		role.Listeners = append(role.Listeners, listeners[name])
	}
	passesThrough := func(name string) bool { l := listeners[name]; return l != nil && len(l.Passthrough) > 0 }
	for _, l := range certs.listeners(passesThrough) {
		sortVirtualHosts(l)
		role.Listeners = append(role.Listeners, l)
	}
	slices.SortStableFunc(role.Listeners, func(a, c *ir.Listener) int { return strings.Compare(a.Name, c.Name) })
	for _, l := range role.Listeners {
		if l.ForwardsConnections() {
			continue
		}
		// Istio's gateway connection managers set use_remote_address (a gateway's clients
		// connect to it directly), name the server istio-envoy and pass the client
		// certificate's details on (buildGatewayConnectionManager).
		l.UseRemoteAddress, l.ServerName, l.SetClientCert = true, "istio-envoy", true
	}
	for _, name := range sortedKeys(used) {
		role.Clusters = append(role.Clusters, b.clustersNamed(name)...)
	}
	return role
}

func canonicalSelector(sel map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

func listenerName(addr string, port uint32) string {
	return addr + "_" + itoa(port)
}

// sortVirtualHosts orders virtual hosts by name and drops a domain already served by an
// earlier one: Envoy rejects a route configuration with a domain twice.
func sortVirtualHosts(l *ir.Listener) {
	slices.SortFunc(l.VirtualHosts, func(a, c *ir.VirtualHost) int { return strings.Compare(a.Name, c.Name) })
	seen := map[string]bool{}
	for _, vh := range l.VirtualHosts {
		kept := vh.Domains[:0]
		for _, d := range vh.Domains {
			if !seen[d] {
				seen[d] = true
				kept = append(kept, d)
			}
		}
		vh.Domains = kept
	}
}

// serverKind is what a gateway listener does with its connections.
type serverKind int

const (
	httpServer        serverKind = iota // HTTP, in plain text or over TLS it terminates
	tcpServerKind                       // plain TCP, forwarded whole
	passthroughServer                   // TLS forwarded without decryption, routed by SNI
)

func (k serverKind) String() string {
	return [...]string{"an HTTP", "a TCP", "a TLS passthrough"}[k]
}

// checkServer reports what a Gateway server asks that signalbox cannot do, and what kind of
// server it is: listeners speak HTTP, in plain text or over TLS they terminate (serverTLS),
// forward plain TCP, or forward TLS by SNI without terminating it (mode PASSTHROUGH). MYSQL and
// REDIS servers are TCP servers as in Istio, whose protocol filters for them are off by default;
// MONGO would get Istio's mongo_proxy filter, which signalbox lacks.
func (b *builder) checkServer(d *schema.Document, path string, srv schema.Server) (kind serverKind, ok bool) {
	ok = true
	switch {
	case isPassthrough(srv):
		kind = passthroughServer
	case srv.Port.Protocol == "TLS":
		mode := ""
		if srv.TLS != nil {
			mode = srv.TLS.Mode
		}
		switch mode {
		case "AUTO_PASSTHROUGH":
			b.unsupportedf(d, path+".tls.mode", "AUTO_PASSTHROUGH routes by SNI to every service of a multi-cluster mesh; use PASSTHROUGH with tls routes")
		case "":
			b.unsupportedf(d, path+".tls", "a TLS server without tls: set mode PASSTHROUGH to route by SNI")
		default:
			b.unsupportedf(d, path+".tls.mode", "mode %s on a TLS server: signalbox forwards TLS it does not terminate (PASSTHROUGH), or terminates TLS for HTTP (protocol HTTPS)", mode)
		}
		ok = false
	default:
		switch srv.Port.Protocol {
		case "", "HTTP", "HTTP2", "GRPC", "HTTPS":
		case "TCP", "MYSQL", "REDIS":
			kind = tcpServerKind
			if srv.TLS != nil {
				b.unsupportedf(d, path+".tls", "TLS on a %s server: signalbox forwards TCP in plain text (or TLS untouched: protocol TLS, mode PASSTHROUGH)", srv.Port.Protocol)
				ok = false
			}
		default:
			b.unsupportedf(d, path+".port.protocol", "protocol %s: gateway listeners speak HTTP (in plain text or over TLS), plain TCP, or pass TLS through", srv.Port.Protocol)
			ok = false
		}
	}
	if srv.DefaultEndpoint != "" {
		b.unsupported(d, path+".defaultEndpoint")
	}
	if srv.Port.TargetPort != 0 {
		b.unsupported(d, path+".port.targetPort")
	}
	return kind, ok
}

// checkVirtualService reports the parts of a VirtualService that signalbox cannot compile
// (its http rules are checked as they are translated, its tcp routes by checkTCPRoutes).
func (b *builder) checkVirtualService(d *schema.Document) {
	vs := d.Spec.(*schema.VirtualService)
	b.checkTCPRoutes(d, vs)
	b.checkTLSRoutes(d, vs)
	b.checkVirtualServiceExportTo(d, vs)
}

// gatewayDomains are the domains of a gateway's virtual host for host on port, as Istio's
// buildGatewayVirtualHostDomains gives them: the host, and the host with any port, since a
// Host header may carry one (RFC 9110 §7.2) that need not be the server's (a load balancer in
// front listens on another). "*" already covers every port. A wildcard host cannot take a
// second wildcard (Istio's "*.example.com:*" is a suffix no Host header ends with): it is
// matched with the server's own port.
func gatewayDomains(host string, port uint32) []string {
	switch {
	case host == "*":
		return []string{host}
	case strings.HasPrefix(host, "*"):
		return []string{host, host + ":" + itoa(port)}
	}
	return []string{host, host + ":*"}
}
