package proxy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// configState is the configuration last accepted, per type, as validated values.
type configState struct {
	listeners map[string]*listenerConfig  // by listener name
	scopes    map[string]*scopeConfig     // by scope name (SRDS)
	routes    map[string]*routeConfig     // by route configuration name
	clusters  map[string]*clusterConfig   // by cluster name
	endpoints map[string]*endpointsConfig // by EDS service name
}

func newConfigState() configState {
	return configState{
		listeners: map[string]*listenerConfig{},
		scopes:    map[string]*scopeConfig{},
		routes:    map[string]*routeConfig{},
		clusters:  map[string]*clusterConfig{},
		endpoints: map[string]*endpointsConfig{},
	}
}

// apply validates and applies one response. On error nothing changed.
func (p *Proxy) apply(typeURL string, res []*anypb.Any) error {
	switch typeURL {
	case resourcev3.ClusterType:
		return p.applyClusters(res)
	case resourcev3.EndpointType:
		return p.applyEndpoints(res)
	case resourcev3.ListenerType:
		return p.applyListeners(res)
	case resourcev3.ScopedRouteType:
		return p.applyScopes(res)
	case resourcev3.RouteType:
		return p.applyRoutes(res)
	}
	return fmt.Errorf("type %s was not subscribed to", typeURL)
}

func (p *Proxy) applyClusters(res []*anypb.Any) error {
	cfgs, err := decodeResources(resourcev3.ClusterType, res,
		func() *clusterv3.Cluster { return &clusterv3.Cluster{} }, (*clusterv3.Cluster).GetName, decodeCluster)
	if err != nil {
		return err
	}
	// CDS is state of the world: a cluster not sent is removed, and so are its endpoints.
	p.state.clusters = cfgs
	p.state.endpoints = keepOnly(p.state.endpoints, p.edsNames())

	next := make(map[string]*cluster, len(cfgs))
	for name, cfg := range cfgs {
		if c, ok := p.clusters[name]; ok && bytes.Equal(c.cfg.raw, cfg.raw) {
			next[name] = c // unchanged: keep its endpoints and balancer position
			continue
		}
		c := newCluster(cfg, p.fwd.stats.get(name))
		if cfg.strictDNS {
			c.followDNS(p.log, nil)
		} else {
			c.setEndpoints(p.endpointsFor(cfg))
		}
		next[name] = c
	}
	p.mu.Lock()
	prev := p.clusters
	p.clusters = next
	p.mu.Unlock()
	p.fwd.stats.clusters.Store(&next)
	for name, c := range prev {
		if next[name] != c {
			c.close()
		}
	}
	p.updateDialTimeouts()
	p.relinkTables()
	return nil
}

func (p *Proxy) applyEndpoints(res []*anypb.Any) error {
	cfgs, err := decodeResources(resourcev3.EndpointType, res,
		func() *endpointv3.ClusterLoadAssignment { return &endpointv3.ClusterLoadAssignment{} },
		(*endpointv3.ClusterLoadAssignment).GetClusterName, decodeClusterLoadAssignment)
	if err != nil {
		return err
	}
	// EDS answers by name: what a response leaves out is unchanged, not removed.
	subscribed := p.edsNames()
	next := keepOnly(p.state.endpoints, subscribed)
	changed := map[string]bool{}
	for name, e := range cfgs {
		if !slices.Contains(subscribed, name) {
			continue // not asked for
		}
		if old, ok := next[name]; !ok || !bytes.Equal(old.raw, e.raw) {
			changed[name] = true
		}
		next[name] = e
	}
	p.state.endpoints = next
	for _, c := range p.clusters {
		if c.cfg.edsName != "" && changed[c.cfg.edsName] {
			c.setEndpoints(next[c.cfg.edsName])
		}
	}
	p.updateDialTimeouts()
	if len(p.warming) > 0 {
		p.relinkTables()
	} else {
		p.notify()
	}
	return nil
}

func (p *Proxy) applyListeners(res []*anypb.Any) error {
	cfgs, err := decodeResources(resourcev3.ListenerType, res,
		func() *listenerv3.Listener { return &listenerv3.Listener{} }, (*listenerv3.Listener).GetName, decodeListener)
	if err != nil {
		return err
	}
	maps.DeleteFunc(cfgs, func(_ string, c *listenerConfig) bool { return c == nil }) // api_listener: not ours
	for _, c := range cfgs {
		c.logTLSFiles(p.log)
	}
	if err := p.reconcileListeners(cfgs); err != nil {
		return err
	}
	p.state.listeners = cfgs
	p.state.routes = keepOnly(p.state.routes, p.rdsNames())
	p.warnUnmatchedBinds(cfgs)
	return nil
}

// warnUnmatchedBinds logs each --bind FROM that none of the listeners has, with the addresses
// they do have, so that a mistyped FROM is seen rather than leaving a listener where xDS put it.
func (p *Proxy) warnUnmatchedBinds(cfgs map[string]*listenerConfig) {
	if len(p.opts.BindFrom) == 0 {
		return
	}
	var addrs []string
	for _, c := range cfgs {
		addrs = append(addrs, c.addr)
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	for _, from := range p.opts.BindFrom {
		if !slices.Contains(addrs, from) {
			p.log.Warn("--bind matches no listener: it rebinds nothing", "from", from, "listeners", strings.Join(addrs, " "))
		}
	}
}

func (p *Proxy) applyRoutes(res []*anypb.Any) error {
	cfgs, err := decodeResources(resourcev3.RouteType, res,
		func() *routev3.RouteConfiguration { return &routev3.RouteConfiguration{} },
		(*routev3.RouteConfiguration).GetName, decodeRouteConfiguration)
	if err != nil {
		return err
	}
	subscribed := p.rdsNames()
	next := keepOnly(p.state.routes, subscribed)
	for name, rc := range cfgs {
		if !slices.Contains(subscribed, name) {
			continue
		}
		if old, ok := next[name]; ok && bytes.Equal(old.raw, rc.raw) {
			continue // unchanged: keep the value the live tables were built from
		}
		next[name] = rc
	}
	p.state.routes = next
	p.relinkTables()
	return nil
}

// reconcileListeners makes the bound listeners match cfgs, transactionally: every socket a
// change needs is bound first, and if one cannot be, the ones just bound are released and
// nothing changes. A listener whose address did not change keeps its socket and connections.
func (p *Proxy) reconcileListeners(cfgs map[string]*listenerConfig) error {
	next := make(map[string]*boundListener, len(cfgs))
	var opened, retired []*boundListener
	moved := map[string]*boundListener{} // by name: the listener a rebound one replaces
	for _, name := range slices.Sorted(maps.Keys(cfgs)) {
		cfg := cfgs[name]
		old := p.bound[name]
		if old != nil && old.cfg.addr == cfg.addr {
			// Chains of any kind, on a socket served by one accept loop (chains_inspected.go).
			bothChoose := old.cfg.choosesChains() && cfg.choosesChains()
			if !bothChoose && old.cfg.terminatesTLS() != cfg.terminatesTLS() {
				// The socket serves plain text or TLS for good; certificates may change (the
				// bound listener reads them per handshake), the mode may not.
				for _, o := range opened {
					o.closeUnstarted()
				}
				return fmt.Errorf("listener %q: filter_chains[0].transport_socket: turning TLS on or off at %s, which is bound: give the listener another address", name, cfg.addr)
			}
			if !bothChoose && old.cfg.choosesChains() != cfg.choosesChains() {
				// The chain-choosing accept loop serves the socket, or a plain server does.
				for _, o := range opened {
					o.closeUnstarted()
				}
				return fmt.Errorf("listener %q: listener_filters: adding or removing %s at %s, which is bound: give the listener another address", name, tlsInspectorName, cfg.addr)
			}
			if !bothChoose && (old.cfg.tcp == nil) != (cfg.tcp == nil) {
				// As for TLS: the socket's server (HTTP or TCP proxy) is fixed while it is
				// bound, and this address cannot be rebound while it is.
				for _, o := range opened {
					o.closeUnstarted()
				}
				return fmt.Errorf("listener %q: filter_chains[0].filters[0]: changing between %s and %s at %s, which is bound: give the listener another address",
					name, hcmFilterName, tcpProxyFilterName, cfg.addr)
			}
			next[name] = old
			continue
		}
		h := &listenerHandler{fwd: p.fwd}
		if old != nil {
			// Moving: the new socket serves the same table until the routes are relinked.
			h.table.Store(old.h.table.Load())
			retired = append(retired, old)
			moved[name] = old
		}
		b, err := p.bind(cfg, h)
		if err != nil {
			for _, o := range opened {
				o.closeUnstarted()
			}
			return fmt.Errorf("listener %q: address: cannot bind %s: %v", name, cfg.addr, err)
		}
		opened = append(opened, b)
		next[name] = b
	}
	for name, old := range p.bound {
		if _, ok := cfgs[name]; !ok {
			retired = append(retired, old)
		}
	}

	p.mu.Lock()
	for name, b := range next {
		before := b.cfg // a newly bound listener's is already cfgs[name]
		if old := moved[name]; old != nil {
			before = old.cfg
		}
		b.cfg = cfgs[name]
		if b.cfg.tls != nil {
			b.tls.Store(b.cfg.tls)
		}
		if b.cfg.sni != nil {
			// Each chain's handler gets its filters; h keeps what it had, for connections
			// opened before the listener had several chains (or is one chain's handler).
			prev := b.sni.Load()
			if prev == nil && moved[name] != nil {
				prev = moved[name].sni.Load()
			}
			if prev == nil {
				prev = oneChainServing(before, b.h)
			}
			b.sni.Store(newSNIServing(b.cfg.sni, prev, p.fwd, p.fwd.stats.listener(name)))
			continue
		}
		b.sni.Store(nil)
		if old := b.h.filters.Load(); old != nil {
			b.cfg.filters.jwt.keepJWKS(old.jwt)
		}
		b.h.filters.Store(&b.cfg.filters)
	}
	p.bound = next
	p.mu.Unlock()
	p.relinkTables()
	for _, b := range opened {
		b.start(p.log)
		p.log.Info("listener bound", "listener", b.cfg.name, "xds_address", b.cfg.addr, "address", b.addr)
	}
	for _, b := range retired {
		p.log.Info("listener draining", "listener", b.cfg.name, "address", b.addr)
		go b.drain(drainTimeout)
	}
	return nil
}

// relinkTables gives every listener a table built from its route configuration and today's
// clusters, making before breaking whatever order the server sends types in:
//
//   - a listener whose route configuration has not arrived keeps the routes it had;
//   - a new route configuration that names a cluster not yet received (or whose endpoints
//     have not arrived) waits, up to warmTimeout, while the previous one keeps serving;
//   - a cluster that CDS removed stays reachable from an unchanged route configuration that
//     still names it, until the route update that stops naming it arrives.
func (p *Proxy) relinkTables() {
	now := time.Now()
	prev := map[*routeConfig]*routeTable{}
	remember := func(h *listenerHandler) {
		if t := h.table.Load(); t != nil {
			prev[t.cfg] = t
			for _, st := range t.scopes {
				prev[st.cfg] = st
			}
		}
	}
	for _, b := range p.bound {
		remember(b.h)
		if s := b.sni.Load(); s != nil {
			for _, h := range s.handlers {
				remember(h)
			}
		}
	}
	tables := map[*routeConfig]*routeTable{}
	link := func(rc *routeConfig) *routeTable {
		t, ok := tables[rc]
		if !ok {
			before := prev[rc]
			t = linkRouteTable(rc, func(name string) *cluster {
				if c, ok := p.clusters[name]; ok {
					return c
				}
				return before.cluster(name)
			})
			t.attachStats(&p.fwd.stats)
			tables[rc] = t
		}
		return t
	}
	warming := map[string]time.Time{}
	// choose returns the table to serve for rc (nil: not received) given the one served so far.
	choose := func(old *routeTable, rc *routeConfig) *routeTable {
		if rc == nil {
			if old != nil {
				return link(old.cfg)
			}
			return nil
		}
		if old != nil && old.cfg != rc && !p.warm(rc) {
			since, waiting := p.warming[rc.name]
			if !waiting {
				since = now
			}
			if now.Sub(since) < p.warmTimeout {
				warming[rc.name] = since
				return link(old.cfg)
			}
			p.log.Warn("route configuration names clusters without endpoints; applying it anyway",
				"route_config", rc.name, "waited", now.Sub(since))
		}
		return link(rc)
	}
	relink := func(h *listenerHandler, routeName string, scoped *scopeKeyBuilder) {
		old := h.table.Load()
		if scoped != nil {
			h.table.Store(p.scopedTable(scoped, old, choose))
			return
		}
		if old != nil && old.scopes != nil {
			old = nil // was scoped: nothing of it carries over to a single table
		}
		if t := choose(old, p.state.routes[routeName]); t != nil {
			h.table.Store(t)
		}
	}
	for _, b := range p.bound {
		if s := b.sni.Load(); s != nil {
			for i, h := range s.handlers {
				relink(h, s.chains.chains[i].routeName, s.chains.chains[i].scoped)
			}
		} else if b.cfg.tcp == nil {
			relink(b.h, b.cfg.routeName, b.cfg.scoped)
		}
		if b.tcp != nil {
			p.linkTCP(b, now, warming)
		}
	}
	p.warming = warming
	p.armWarmTimer(now)
	p.notify()
}

// warm reports whether every cluster rc names is known and has its endpoints.
func (p *Proxy) warm(rc *routeConfig) bool {
	return p.warmClusters(rc.clusters)
}

// warmClusters reports whether every cluster named is known and has its endpoints.
func (p *Proxy) warmClusters(names []string) bool {
	for _, name := range names {
		c := p.clusters[name]
		if c == nil || (c.cfg.static == nil && p.state.endpoints[c.cfg.edsName] == nil) {
			return false
		}
	}
	return true
}

// armWarmTimer schedules a relink for when the oldest waiting route configuration times out.
func (p *Proxy) armWarmTimer(now time.Time) {
	if p.warmTimer != nil {
		p.warmTimer.Stop()
		p.warmTimer = nil
	}
	if len(p.warming) == 0 {
		return
	}
	first := now
	for _, since := range p.warming {
		if since.Before(first) {
			first = since
		}
	}
	p.warmTimer = time.AfterFunc(first.Add(p.warmTimeout).Sub(now), func() {
		select {
		case p.warmExpired <- struct{}{}:
		default:
		}
	})
}

func (p *Proxy) endpointsFor(cfg *clusterConfig) *endpointsConfig {
	if cfg.static != nil {
		return cfg.static
	}
	return p.state.endpoints[cfg.edsName]
}

// updateDialTimeouts publishes each endpoint's connect_timeout for the shared dialer.
func (p *Proxy) updateDialTimeouts() {
	m := map[string]time.Duration{}
	for _, c := range p.clusters {
		if s := c.eps.Load(); s != nil {
			for _, e := range s.eps {
				m[e.addr] = max(m[e.addr], c.cfg.connectTimeout)
			}
		}
	}
	p.fwd.timeouts.Store(&m)
}

// edsNames is the EDS subscription that follows from the accepted clusters.
func (p *Proxy) edsNames() []string {
	var names []string
	for _, c := range p.state.clusters {
		if c.edsName != "" {
			names = append(names, c.edsName)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// scopedTable builds a scoped listener's table: a table per scope key, each chosen as a single
// listener's is (a scope whose route configuration has not arrived keeps what it served).
func (p *Proxy) scopedTable(kb *scopeKeyBuilder, old *routeTable, choose func(*routeTable, *routeConfig) *routeTable) *routeTable {
	t := &routeTable{keyOf: kb, scopes: make(map[string]*routeTable, len(p.state.scopes))}
	for _, sc := range p.state.scopes {
		var was *routeTable
		if old != nil {
			was = old.scopes[sc.key]
		}
		if st := choose(was, p.state.routes[sc.routeName]); st != nil {
			t.scopes[sc.key] = st
		}
	}
	if kb.foldsCase() {
		t.folded = foldScopeKeys(t.scopes)
	}
	return t
}

// rdsNames is the RDS subscription that follows from the accepted listeners and scopes.
func (p *Proxy) rdsNames() []string {
	var names []string
	scoped := false
	for _, l := range p.state.listeners {
		if l.scoped != nil {
			scoped = true
			continue
		}
		if l.sni != nil {
			for _, c := range l.sni.chains {
				if c.scoped != nil {
					scoped = true
					continue
				}
				names = append(names, c.routeName)
			}
			continue
		}
		if l.tcp != nil {
			continue // a TCP proxy listener has no routes
		}
		names = append(names, l.routeName)
	}
	if scoped {
		for _, sc := range p.state.scopes {
			names = append(names, sc.routeName)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func (p *Proxy) notify() {
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
}

// keepOnly returns a copy of m restricted to names.
func keepOnly[V any](m map[string]V, names []string) map[string]V {
	out := make(map[string]V, len(names))
	for _, n := range names {
		if v, ok := m[n]; ok {
			out[n] = v
		}
	}
	return out
}
