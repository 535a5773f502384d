package diff

// mergeRoles reports a change that several roles see identically (the sidecar and the gRPC
// role route the same hosts) once, naming every role: "sidecar, grpc".
func (r *Report) mergeRoles() {
	type key struct{ host, route, cluster, listener, what, before, after string }
	first := map[key]int{}
	out := r.Changes[:0]
	for _, c := range r.Changes {
		if c.Role == "" || (c.Host == "" && c.Listener == "") {
			out = append(out, c)
			continue
		}
		k := key{c.Host, c.Route, c.Cluster, c.Listener, c.What, c.Before, c.After}
		if i, ok := first[k]; ok {
			out[i].Role += ", " + c.Role
			continue
		}
		first[k] = len(out)
		out = append(out, c)
	}
	r.Changes = out
	seen := map[string]bool{}
	splits := r.splits[:0]
	for _, s := range r.splits {
		if !seen[s.host] {
			seen[s.host] = true
			splits = append(splits, s)
		}
	}
	r.splits = splits
}
