package diff

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/signalbox/signalbox/compiler/xds"
)

// listenerAddress renders where a listener listens, or its name for API listeners.
func listenerAddress(l *listener.Listener) string {
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil {
		return l.Name
	}
	return sa.GetAddress() + ":" + strconv.FormatUint(uint64(sa.GetPortValue()), 10)
}

// httpFilter is one HTTP filter of a listener's connection manager: where security policies
// (RBAC, JWT authentication) and faults live.
type httpFilter struct {
	name   string
	config *anypb.Any
}

// httpFilters lists the HTTP filters of every connection manager of the listener, in order,
// each name once.
func httpFilters(l *listener.Listener) []httpFilter {
	var managers []*anypb.Any
	for _, fc := range l.FilterChains {
		for _, f := range fc.Filters {
			managers = append(managers, f.GetTypedConfig())
		}
	}
	if api := l.GetApiListener().GetApiListener(); api != nil {
		managers = append(managers, api)
	}
	var out []httpFilter
	for _, a := range managers {
		var m hcm.HttpConnectionManager
		if a == nil || !a.MessageIs(&m) || a.UnmarshalTo(&m) != nil {
			continue
		}
		for _, hf := range m.HttpFilters {
			if !slices.ContainsFunc(out, func(x httpFilter) bool { return x.name == hf.Name }) {
				out = append(out, httpFilter{hf.Name, hf.GetTypedConfig()})
			}
		}
	}
	return out
}

// compareListeners reports listeners added and removed, and for a changed listener what
// changed in its HTTP filters (a policy added, removed or edited) or its TCP proxy (where
// connections go), else which fields changed.
func (r *Report) compareListeners(role string, before, after map[string]*listener.Listener) {
	names := map[string]bool{}
	for k := range before {
		names[k] = true
	}
	for k := range after {
		names[k] = true
	}
	for _, name := range sortedKeys(names) {
		b, a := before[name], after[name]
		add := func(what, before, after string) {
			r.add(Change{Role: role, Listener: name, What: what, Before: before, After: after})
		}
		switch {
		case b == nil:
			add(ListenerAdded, "", listenerAddress(a))
		case a == nil:
			add(ListenerRemoved, listenerAddress(b), "")
		case !proto.Equal(b, a):
			if bs, as := sniChains(b), sniChains(a); bs != nil && as != nil && r.compareSNI(role, name, bs, as) {
				continue
			}
			if bt, at := tcpProxyOf(b), tcpProxyOf(a); bt != nil && at != nil && compareTCP(bt, at, add) {
				continue
			}
			bf, af := httpFilters(b), httpFilters(a)
			reported := false
			if bn, an := filterNames(bf), filterNames(af); bn != an {
				add(HTTPFilters, bn, an)
				reported = true
			}
			var edited []string
			for _, x := range af {
				for _, y := range bf {
					if x.name == y.name && !proto.Equal(x.config, y.config) {
						edited = append(edited, x.name)
					}
				}
			}
			if len(edited) > 0 {
				add(HTTPFilterSettings, "", "changed: "+strings.Join(edited, ", "))
				reported = true
			}
			if bs, as := sidecarNames(b), sidecarNames(a); bs != as {
				add(Sidecars, bs, as)
				reported = len(differingFields(b, a, "metadata")) == 0
			}
			if !reported {
				add(ListenerChanged, "", "changed: "+strings.Join(differingFields(b, a), ", "))
			}
		}
	}
}

func filterNames(fs []httpFilter) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return fmtList(names)
}

// sidecarNames lists the Sidecar resources a listener carries, with their workload selectors:
// "team-a/default, team-a/legacy (app=legacy)".
func sidecarNames(l *listener.Listener) string {
	scopes, err := xds.ListenerSidecars(l)
	if err != nil {
		return "(unreadable)"
	}
	var names []string
	for _, sc := range scopes {
		name := sc.Name
		if sc.Selected {
			var labels []string
			for _, k := range slices.Sorted(maps.Keys(sc.Selector)) {
				labels = append(labels, k+"="+sc.Selector[k])
			}
			name += " (" + strings.Join(labels, ",") + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}
