package compiler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
)

// Several ServiceEntries for one host in different namespaces are kept apart, as Istio's
// service index keeps them (PushContext.ServiceIndex.HostnameAndNamespace), and each proxy
// sees one of them, the first its namespace's list of services gives for the host:
//
//   - servicesExportedToNamespace (pilot/pkg/model/push_context.go) lists the services private
//     to the proxy's namespace (its own, exported to "." or to itself), then those of other
//     namespaces exported to it by name, then the public ones (exportTo "*" or none), each
//     group in the order initServiceRegistry sorted every service in: creation time, then
//     "NAME.NAMESPACE" (a ServiceEntry's service is named by its host, so for one host the
//     namespace decides). A policy tree has no creation time, so signalbox takes namespace
//     order, as drmerge.go takes name order for the same reason;
//   - DefaultSidecarScopeForNamespace and appendSidecarServices (pilot/pkg/model/sidecar.go)
//     keep the first service seen for a hostname and drop the later ones of other namespaces
//     (canMergeServices merges only within a namespace).
//
// A proxy without a namespace sees what a namespace no entry names sees, the public entries
// alone, as ruleFor treats it for DestinationRules.

// entryVisibility classifies an entry's exportTo as Istio's initServiceRegistry does: public
// ("*" or none), nowhere ("~"), or the namespaces it names ("." resolved).
func entryVisibility(e *service) (public bool, named []string) {
	exported := e.exportedTo()
	if exported == nil {
		return true, nil
	}
	if slices.Contains(exported, "~") {
		return false, nil // Istio ignores every other exportTo beside "~"
	}
	return false, exported
}

// entryFor is the entry (of one host, in namespace order) a proxy of namespace ns sees, nil
// for none; elsewhere stands for every namespace no entry names (and proxies without one).
func entryFor(entries []*service, ns string, elsewhere bool) *service {
	if !elsewhere {
		// Private to ns: its own entry exported to "." or to ns.
		for _, e := range entries {
			if _, named := entryVisibility(e); e.doc.Namespace == ns && slices.Contains(named, ns) {
				return e
			}
		}
		// Exported to ns by name from another namespace.
		for _, e := range entries {
			if _, named := entryVisibility(e); e.doc.Namespace != ns && slices.Contains(named, ns) {
				return e
			}
		}
	}
	for _, e := range entries {
		if public, _ := entryVisibility(e); public {
			return e
		}
	}
	return nil
}

// chooseEntries sets, for a host several namespaces declare, which proxies see each entry
// (seen) and which are served its clusters (scope): the namespaces whose proxies see it,
// and, for the first public entry (or, without one, the first entry), every namespace that
// sees none, whose proxies are served its clusters only where a route they are served names
// them (its clusters' visibility says so), as a proxy is served the cluster of an unexported
// service a route names. An entry no namespace sees is warned about.
func (b *builder) chooseEntries(entries []*service) {
	var named []string
	for _, e := range entries {
		named = append(named, e.doc.Namespace)
		_, ns := entryVisibility(e)
		named = append(named, ns...)
	}
	split := splitNamespaces(named, func(ns string, elsewhere bool) *service { return entryFor(entries, ns, elsewhere) })
	named, rest, unseen := split.named, split.rest, split.only[nil]
	fallback := rest
	if fallback == nil {
		fallback = entries[0]
	}
	for _, e := range entries {
		only := split.only[e]
		e.seen = split.scope(e)
		if e.seen == nil {
			e.seen = &ir.NamespaceScope{Only: only}
		}
		e.scope = e.seen
		if e == fallback {
			if rest == nil {
				e.scope = &ir.NamespaceScope{Elsewhere: true, Except: slices.DeleteFunc(slices.Clone(named), func(ns string) bool {
					return slices.Contains(only, ns) || slices.Contains(unseen, ns)
				})}
			}
		}
		if e != rest && len(only) == 0 {
			first := entryFor(entries, e.doc.Namespace, false)
			if public, _ := entryVisibility(e); public && rest != nil {
				first = rest
			}
			why := "no namespace it is exported to sees it first"
			if first != nil && first != e {
				why = fmt.Sprintf("the namespaces it is exported to see %s %s/%s first", first.doc.Kind, first.doc.Namespace, first.doc.Name)
			}
			b.warnf(e.doc, e.hostPath(), "host %q is declared in several namespaces and no proxy sees this %s: %s (Istio lists a namespace's own private entries, then those exported to it by name, then the public ones, each by creation time and then namespace; a policy tree has no creation time, so signalbox takes namespace order)",
				e.host, e.doc.Kind, why)
		}
	}
}

// hostPath is where the entry names its host.
func (s *service) hostPath() string {
	return s.doc.EntryPath(fmt.Sprintf("spec.hosts[%d]", slices.Index(s.entry.Hosts, s.host)))
}

// intersectScopes is the namespaces in both a and b (nil: every namespace), nil only when both
// are; an empty Only list is no namespace.
func intersectScopes(a, b *ir.NamespaceScope) *ir.NamespaceScope {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.Elsewhere && b.Elsewhere:
		except := append(slices.Clone(a.Except), b.Except...)
		slices.Sort(except)
		return &ir.NamespaceScope{Elsewhere: true, Except: slices.Compact(except)}
	case a.Elsewhere:
		a, b = b, a
	}
	only := slices.DeleteFunc(slices.Clone(a.Only), func(ns string) bool { return !b.Has(ns) })
	return &ir.NamespaceScope{Only: only}
}

// empty reports a scope of no namespace.
func emptyScope(s *ir.NamespaceScope) bool {
	return s != nil && !s.Elsewhere && len(s.Only) == 0
}

// hostEntries is every entry of the host svc stands for: its own, or, declared in several
// namespaces, each namespace's.
func (s *service) hostEntries() []*service {
	if s.entries != nil {
		return s.entries
	}
	return []*service{s}
}

// allPorts is the port numbers of every entry of the host, lowest first.
func (s *service) allPorts() []uint32 {
	var ps []uint32
	for _, e := range s.hostEntries() {
		ps = append(ps, e.sortedPorts()...)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// hasAnyPort reports whether some entry of the host declares port n.
func (s *service) hasAnyPort(n uint32) bool {
	return slices.ContainsFunc(s.hostEntries(), func(e *service) bool { _, ok := e.port(n); return ok })
}

// portNamespaces is the namespaces whose proxies see an entry of the host with port p, as a
// sidecar route condition (nil: every namespace; ["~"]: none), and whether a route condition
// can say it: "every namespace but these" it cannot.
func (s *service) portNamespaces(p uint32) ([]string, bool) {
	if s.entries == nil {
		return s.exportedTo(), true
	}
	var only []string
	for _, e := range s.entries {
		if _, ok := e.port(p); !ok {
			continue
		}
		if e.seen.Elsewhere {
			if len(e.seen.Except) == 0 {
				return nil, true
			}
			// Every namespace but those that see an entry without the port.
			for _, ns := range e.seen.Except {
				if x := s.entrySeenIn(ns); x != nil && !x.hasPort(p) {
					return nil, false
				}
			}
			return nil, true
		}
		only = append(only, e.seen.Only...)
	}
	if len(only) == 0 {
		return []string{"~"}, true
	}
	slices.Sort(only)
	return slices.Compact(only), true
}

func (s *service) hasPort(n uint32) bool { _, ok := s.port(n); return ok }

// entrySeenIn is the entry of the host proxies of namespace ns see (ns "": a proxy without
// one), nil for none.
func (s *service) entrySeenIn(ns string) *service {
	for _, e := range s.hostEntries() {
		if e.seen == nil || e.seen.Has(ns) {
			return e
		}
	}
	return nil
}

// checkHostEntries refuses what signalbox cannot serve per namespace of a host several
// namespaces declare: the bare host name (and short names) go to the lowest port on one
// virtual host for every proxy, so entries seen somewhere must agree on it; a port some
// namespaces see and others, that see another entry, do not, cannot be a route condition when
// the rest of the mesh sees it ("every namespace but"); and a Sidecar that admits one entry of
// the host and not another would make its proxies see the other, which signalbox does not
// choose by yet.
func (b *builder) checkHostEntries(svc *service, vis *visibility) {
	var seen []*service
	for _, e := range svc.entries {
		if e.seen.Elsewhere || len(e.seen.Only) > 0 {
			seen = append(seen, e)
		}
	}
	if len(seen) < 2 {
		return
	}
	first := seen[0]
	for _, e := range seen[1:] {
		if e.sortedPorts()[0] != first.sortedPorts()[0] {
			b.unsupportedf(e.doc, e.doc.EntryPath("spec.ports"), "host %q is also declared by %s %s/%s at %s, whose lowest port is %d, not %d: a sidecar serves the bare host name on one lowest port for every proxy; give the ServiceEntries of one host the same lowest port",
				svc.host, first.doc.Kind, first.doc.Namespace, first.doc.Name, first.doc.Pos, first.sortedPorts()[0], e.sortedPorts()[0])
			return
		}
	}
	for _, p := range svc.allPorts() {
		if _, ok := svc.portNamespaces(p); ok {
			continue
		}
		for _, e := range seen {
			if !e.hasPort(p) {
				b.unsupportedf(e.doc, e.doc.EntryPath("spec.ports"), "host %q has port %d in the ServiceEntry the rest of the mesh sees, but not in this one, which proxies in %s see: a sidecar route cannot be for every namespace but some; declare port %d here too",
					svc.host, p, strings.Join(e.seen.Only, ", "), p)
				return
			}
		}
	}
	if vis == nil {
		return
	}
	refuse := func(e, other *service) {
		b.unsupportedf(e.doc, e.hostPath(), "host %q is declared in several namespaces and the Sidecars' egress hosts admit this %s and %s %s/%s for different proxies: Istio's proxies under a Sidecar that admits one entry of the host and not the one their namespace sees first see the admitted one, which signalbox does not choose by yet; make every Sidecar admit all of the host's entries or none (\"*/%s\"), or the one its namespace sees",
			svc.host, e.doc.Kind, other.doc.Kind, other.doc.Namespace, other.doc.Name, svc.host)
	}
	// A namespace's own Sidecars apply to its proxies alone, which see one entry of the host
	// (seen): such a Sidecar agrees with Istio as long as it admits that entry whenever it
	// admits another (a team's "./*" admits its own entry, which its namespace sees first).
	everyone := []string{""} // what ofService's nil stands for: no Sidecar, and every one
	for _, s := range vis.scopes {
		everyone = append(everyone, s.scope.Name)
	}
	admittedBy := func(e *service) []string {
		if names := vis.ofService(e); names != nil {
			return names
		}
		return everyone
	}
	local := map[string]bool{}
	for _, s := range vis.scopes {
		if s.root {
			continue
		}
		local[s.scope.Name] = true
		var chosen, other *service
		chosenAdmitted := false
		for _, e := range seen {
			admitted := slices.Contains(admittedBy(e), s.scope.Name)
			switch {
			case e.seen.Has(s.doc.Namespace):
				chosen, chosenAdmitted = e, admitted
			case admitted && other == nil:
				other = e
			}
		}
		if other != nil && !chosenAdmitted {
			if chosen == nil {
				chosen = first
			}
			refuse(other, chosen)
			return
		}
	}
	// The root namespace's Sidecar and proxies without one span namespaces that see different
	// entries: they must treat every entry alike.
	admitsElsewhere := func(e *service) []string {
		return slices.DeleteFunc(slices.Clone(admittedBy(e)), func(name string) bool { return local[name] })
	}
	admits := admitsElsewhere(first)
	for _, e := range seen[1:] {
		if !slices.Equal(admitsElsewhere(e), admits) {
			refuse(e, first)
			return
		}
	}
}

// checkEntryDestination reports a route to a host several namespaces declare where, in a
// namespace the route applies in (where: nil for every namespace), proxies see no entry of
// the host, or one without the route's port: Istio's proxies there have no such cluster and
// answer 503 (a mirror there is dropped), as checkDestinationExports and checkSubsetVisible
// report for one entry.
func (b *builder) checkEntryDestination(ref destRef, svc *service, where []string, applies string) {
	type place struct{ ns, label string }
	var places []place
	if where == nil {
		var named []string
		for _, e := range svc.entries {
			named = append(named, e.seen.Only...)
			named = append(named, e.seen.Except...)
		}
		slices.Sort(named)
		for _, ns := range slices.Compact(named) {
			places = append(places, place{ns, ns})
		}
		places = append(places, place{"", "every other namespace"})
	} else {
		for _, ns := range where {
			places = append(places, place{ns, ns})
		}
	}
	var parts []string
	for _, p := range places {
		e := svc.entrySeenIn(p.ns)
		switch {
		case e == nil || e.seen != nil && !e.seen.Has(p.ns):
			parts = append(parts, fmt.Sprintf("proxies in %s see no ServiceEntry for it", p.label))
		case ref.port != 0 && !e.hasPort(ref.port):
			parts = append(parts, fmt.Sprintf("proxies in %s see %s %s/%s, which has no port %d", p.label, e.doc.Kind, e.doc.Namespace, e.doc.Name, ref.port))
		}
	}
	if len(parts) == 0 {
		return
	}
	outcome := "its requests get 503 (cluster not found)"
	if strings.Contains(ref.path, ".mirror") {
		outcome = "nothing is mirrored"
	}
	b.errorf(ref.doc, ref.path, "host %q is declared in several namespaces and the route applies %s, but %s: Istio's proxies there have no such cluster and %s",
		ref.host, applies, strings.Join(parts, "; "), outcome)
}
