package diff

import (
	"maps"
	"slices"
	"strings"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/signalbox/signalbox/compiler/xds"
)

// describeSource names which proxies a route is for (sourceLabels, sourceNamespace, exportTo),
// "" when it is for every proxy: " for proxies app=reviews in namespace test".
func describeSource(rt *route.Route) string {
	s, err := xds.RouteSource(rt)
	switch {
	case err != nil:
		return " for proxies (unreadable condition)"
	case s == nil:
		return ""
	case s.Fallback && len(s.Namespaces) == 0:
		return " for proxies" + sidecars(s.Sidecars) + " no other route is for"
	case s.Fallback:
		// A sidecar service whose ServiceEntry is exported to some namespaces only.
		return " for proxies in " + namespaces(s.Namespaces) + sidecars(s.Sidecars) + " no other route is for"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		parts = append(parts, k+"="+s.Labels[k])
	}
	out := " for proxies"
	if len(parts) > 0 {
		out += " " + strings.Join(parts, ",")
	}
	if s.Namespace != "" {
		out += " in namespace " + s.Namespace
	}
	if len(s.Namespaces) > 0 {
		out += " in " + namespaces(s.Namespaces) + " (exportTo)"
	}
	return out + sidecars(s.Sidecars)
}

// sidecars names the Sidecar resources whose proxies a route is for (ir.Source.Sidecars):
// " without a Sidecar or with Sidecar team-a/default, istio-system/default in namespace team-a".
func sidecars(list []string) string {
	if list == nil {
		return ""
	}
	var parts []string
	none := false
	for _, s := range list {
		switch name, ns, at := strings.Cut(s, "@"); {
		case s == "":
			none = true
		case at:
			parts = append(parts, name+" in namespace "+ns)
		default:
			parts = append(parts, s)
		}
	}
	switch {
	case len(parts) == 0:
		return " without a Sidecar"
	case none:
		return " without a Sidecar or with Sidecar " + strings.Join(parts, ", ")
	}
	return " with Sidecar " + strings.Join(parts, ", ")
}

func namespaces(ns []string) string {
	if len(ns) == 1 {
		return "namespace " + ns[0]
	}
	return "namespaces " + strings.Join(ns, ", ")
}

// describeMatchOf is a route's match and, when it has one, its source condition: together
// they say which requests from which proxies take it.
func describeMatchOf(rt *routeView) string {
	return describeMatch(rt.match) + describeSource(rt.raw)
}

// onlySourceMetadata reports whether two routes' metadata differ at most in their source
// conditions, which describeMatchOf puts in words.
func onlySourceMetadata(b, a *route.Route) bool {
	return maps.EqualFunc(withoutSourceField(b), withoutSourceField(a), func(x, y string) bool { return x == y })
}

// withoutSourceField flattens a route's filter metadata to comparable strings, leaving out
// the source condition.
func withoutSourceField(rt *route.Route) map[string]string {
	out := map[string]string{}
	for ns, st := range rt.GetMetadata().GetFilterMetadata() {
		for k, v := range st.GetFields() {
			if ns == xds.MetadataKey && k == xds.SourceField {
				continue
			}
			b, _ := v.MarshalJSON()
			out[ns+"."+k] = string(b)
		}
	}
	for ns, v := range rt.GetMetadata().GetTypedFilterMetadata() {
		out["typed."+ns] = v.String()
	}
	return out
}
