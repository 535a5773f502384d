package diff

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/signalbox/signalbox/compiler"
)

// Compare reports what changes for traffic from base to head.
func Compare(base, head *compiler.Snapshot) (*Report, error) {
	r := &Report{Base: Side{Version: base.Version}, Head: Side{Version: head.Version}, Changes: []Change{}}
	if base.Version == head.Version {
		return r, nil // same digest, same bytes: nothing can differ
	}
	bv, err := newView(base)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	hv, err := newView(head)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	roles := roleOrder(bv, hv)
	for _, role := range roles {
		if !sameVersion(bv, hv, role, resource.RouteType) {
			r.compareRole(role, bv, hv)
		}
	}
	clustersChanged := slices.ContainsFunc(roles, func(role string) bool {
		return !sameVersion(bv, hv, role, resource.ClusterType) || !sameVersion(bv, hv, role, resource.EndpointType)
	})
	if clustersChanged {
		r.compareClusters(bv, hv)
	}
	for _, role := range roles {
		if !sameVersion(bv, hv, role, resource.ListenerType) {
			r.compareListeners(role, bv.listeners[role], hv.listeners[role])
		}
	}
	r.mergeRoles()
	return r, nil
}

func (r *Report) add(c Change) { r.Changes = append(r.Changes, c) }

// roleOrder is the sidecar first, then the other roles by name.
func roleOrder(a, b *view) []string {
	set := map[string]bool{}
	for k := range a.hosts {
		set[k] = true
	}
	for k := range b.hosts {
		set[k] = true
	}
	roles := sortedKeys(set)
	sort.SliceStable(roles, func(i, j int) bool {
		return roles[i] == compiler.SidecarRole && roles[j] != compiler.SidecarRole
	})
	return roles
}

func (r *Report) compareRole(role string, bv, hv *view) {
	before, inBase := bv.hosts[role]
	after, inHead := hv.hosts[role]
	switch {
	case !inBase:
		r.add(Change{Role: role, What: RoleAdded, After: fmt.Sprintf("%d virtual hosts", len(after))})
	case !inHead:
		r.add(Change{Role: role, What: RoleRemoved, Before: fmt.Sprintf("%d virtual hosts", len(before))})
	}
	keys := make([]hostKey, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b hostKey) int {
		if c := strings.Compare(a.vhost, b.vhost); c != 0 {
			return c
		}
		return strings.Compare(a.routeConfig, b.routeConfig)
	})
	for _, k := range keys {
		b, a := before[k], after[k]
		n := len(r.Changes)
		switch {
		case b == nil:
			r.add(Change{Role: role, Host: a.name, What: HostAdded, After: summarizeRoutes(a)})
		case a == nil:
			r.add(Change{Role: role, Host: b.name, What: HostRemoved, Before: summarizeRoutes(b)})
		case !proto.Equal(b.raw, a.raw):
			r.compareHost(role, b, a)
		}
		if slices.ContainsFunc(r.Changes[n:], func(c Change) bool { return splitKinds[c.What] }) {
			r.splits = append(r.splits, split{role: role, host: k.vhost, before: b, after: a})
		}
	}
}

// summarizeRoutes describes a host's routes in one line: "prefix /api → x 100%; any request → y 100%".
func summarizeRoutes(h *hostView) string {
	var parts []string
	for _, rt := range h.routes {
		parts = append(parts, describeRoute(rt))
	}
	return strings.Join(parts, "; ")
}

func describeRoute(rt *routeView) string {
	if rt.raw.GetRoute() == nil {
		return describeMatchOf(rt) + " → " + actionKind(rt.raw)
	}
	return describeMatchOf(rt) + " → " + describeDests(rt.dests)
}

// actionKind names a route action that sends traffic nowhere upstream.
func actionKind(rt *route.Route) string {
	switch {
	case rt.GetRedirect() != nil:
		return "redirect"
	case rt.GetDirectResponse() != nil:
		return fmt.Sprintf("direct response %d", rt.GetDirectResponse().GetStatus())
	}
	return "no action"
}

func (r *Report) compareHost(role string, b, a *hostView) {
	if !slices.Equal(b.domains, a.domains) {
		r.add(Change{Role: role, Host: a.name, What: Domains, Before: fmtList(b.domains), After: fmtList(a.domains)})
	}
	if fields := differingFields(b.raw, a.raw, "name", "domains", "routes"); len(fields) > 0 {
		r.add(Change{Role: role, Host: a.name, What: HostSettings, After: "changed: " + strings.Join(fields, ", ")})
	}
	inBase, inHead := map[string]*routeView{}, map[string]*routeView{}
	for _, rt := range b.routes {
		inBase[rt.key] = rt
	}
	for _, rt := range a.routes {
		inHead[rt.key] = rt
	}
	// A route only renamed (a rule given a name) routes exactly as before: say so, rather than
	// report it removed and added.
	renamedFrom := map[string]*routeView{}
	renamed := map[string]bool{}
	for _, rt := range a.routes {
		if inBase[rt.key] != nil {
			continue
		}
		for _, old := range b.routes {
			if inHead[old.key] == nil && !renamed[old.key] && sameButName(old.raw, rt.raw) {
				renamedFrom[rt.key], renamed[old.key] = old, true
				break
			}
		}
	}
	var commonAfter []string
	for _, rt := range a.routes {
		old, ok := inBase[rt.key]
		switch {
		case ok:
			commonAfter = append(commonAfter, rt.key)
			r.compareRoute(role, a.name, old, rt)
		case renamedFrom[rt.key] != nil:
			r.add(Change{Role: role, Host: a.name, Route: rt.name, What: RouteRenamed, Before: renamedFrom[rt.key].name, After: rt.name})
		default:
			r.add(Change{Role: role, Host: a.name, Route: rt.name, What: RouteAdded, After: describeRoute(rt)})
		}
	}
	var commonBefore []string
	for _, rt := range b.routes {
		switch {
		case inHead[rt.key] != nil:
			commonBefore = append(commonBefore, rt.key)
		case !renamed[rt.key]:
			r.add(Change{Role: role, Host: b.name, Route: rt.name, What: RouteRemoved, Before: describeRoute(rt)})
		}
	}
	if !slices.Equal(commonBefore, commonAfter) {
		r.add(Change{Role: role, Host: a.name, What: RouteOrder, Before: strings.Join(commonBefore, ", "), After: strings.Join(commonAfter, ", ")})
	}
}

// sameButName reports whether two routes differ in nothing but their names.
func sameButName(a, b *route.Route) bool {
	return len(differingFields(a, b, "name")) == 0
}

func (r *Report) compareRoute(role, host string, b, a *routeView) {
	if proto.Equal(b.raw, a.raw) {
		return
	}
	at := func(what, before, after string) {
		r.add(Change{Role: role, Host: host, Route: a.name, What: what, Before: before, After: after})
	}
	if !proto.Equal(b.match, a.match) || describeSource(b.raw) != describeSource(a.raw) {
		bm, am := describeMatchOf(b), describeMatchOf(a)
		if bm == am {
			am = "changed: " + strings.Join(differingFields(orEmpty(b.match), orEmpty(a.match)), ", ")
		}
		at(Match, bm, am)
	}
	if !slices.Equal(b.dests, a.dests) {
		what := Destinations
		if sameClusters(b.dests, a.dests) {
			what = Weights
		}
		at(what, describeDests(b.dests), describeDests(a.dests))
	}
	ba, aa := b.raw.GetRoute(), a.raw.GetRoute()
	if bt, att := describeTimeout(ba), describeTimeout(aa); bt != att {
		at(Timeout, bt, att)
	}
	if br, ar := describeRetries(ba), describeRetries(aa); br != ar || !proto.Equal(ba.GetRetryPolicy(), aa.GetRetryPolicy()) {
		if br == ar {
			ar = "changed: " + strings.Join(differingFields(orEmptyRetry(ba), orEmptyRetry(aa)), ", ")
		}
		at(Retries, br, ar)
	}
	if fields := otherRouteFields(b.raw, a.raw); len(fields) > 0 {
		at(RouteSettings, "", "changed: "+strings.Join(fields, ", "))
	}
}

// otherRouteFields names what differs between two routes besides what compareRoute already
// put in words (name, match, destinations, timeout, retries).
func otherRouteFields(b, a *route.Route) []string {
	var out []string
	for _, f := range differingFields(b, a, "name", "match") {
		if f == "metadata" && onlySourceMetadata(b, a) {
			continue
		}
		if f != "route" || b.GetRoute() == nil || a.GetRoute() == nil {
			out = append(out, f)
			continue
		}
		for _, g := range differingFields(b.GetRoute(), a.GetRoute(), clusterSpecifiers...) {
			out = append(out, "route."+g)
		}
	}
	return out
}

// clusterSpecifiers are the RouteAction fields compareRoute already describes: where traffic
// goes, the timeout (and the gRPC forms of it) and retries.
var clusterSpecifiers = []string{"cluster", "weighted_clusters", "cluster_header",
	"cluster_specifier_plugin", "inline_cluster_specifier_plugin", "timeout", "max_grpc_timeout",
	"max_stream_duration", "retry_policy"}

func orEmpty(m *route.RouteMatch) *route.RouteMatch {
	if m == nil {
		return &route.RouteMatch{}
	}
	return m
}

func orEmptyRetry(a *route.RouteAction) *route.RetryPolicy {
	if p := a.GetRetryPolicy(); p != nil {
		return p
	}
	return &route.RetryPolicy{}
}

func sameClusters(a, b []dest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].cluster != b[i].cluster {
			return false
		}
	}
	return true
}
