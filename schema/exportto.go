package schema

import "slices"

// ExportedTo resolves a VirtualService's exportTo to the namespaces whose proxies see it: nil
// for every namespace (no exportTo, or "*"), "." as its own. ("~", none, is for ServiceEntries
// only: validation refuses it here.)
func ExportedTo(namespace string, exportTo []string) []string {
	if len(exportTo) == 0 || slices.Contains(exportTo, "*") {
		return nil
	}
	var out []string
	for _, e := range exportTo {
		if e == "." {
			e = namespace
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// SeenTogether reports whether some namespace sees both of two exports (nil: every one).
func SeenTogether(a, b []string) bool {
	if a == nil || b == nil {
		return true
	}
	return slices.ContainsFunc(a, func(ns string) bool { return slices.Contains(b, ns) })
}
