package diff

import (
	"fmt"
	"strings"
)

// mermaid draws the changed hosts' routes and their traffic split, before and after, as a
// flowchart: host → route (labelled by its match) → destination, edges labelled by share.
func (r *Report) mermaid() string {
	var hosts []split
	for _, s := range r.splits {
		if len(hosts) == maxDiagramHosts {
			break
		}
		hosts = append(hosts, s)
	}
	if len(hosts) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, s := range [2]string{"before", "after"} {
		side := r.Base
		if i == 1 {
			side = r.Head
		}
		fmt.Fprintf(&b, "  subgraph %s[\"%s: %s\"]\n", s, s, label(sideName(side)))
		for j, h := range hosts {
			hv := h.before
			if i == 1 {
				hv = h.after
			}
			drawHost(&b, fmt.Sprintf("%s%d", s[:1], j), h.role, h.host, hv)
		}
		b.WriteString("  end\n")
	}
	if len(r.splits) > len(hosts) {
		fmt.Fprintf(&b, "  more[\"… %d more changed hosts\"]\n", len(r.splits)-len(hosts))
	}
	return b.String()
}

func drawHost(b *strings.Builder, id, role, host string, hv *hostView) {
	hostID := id + "h"
	if hv == nil {
		fmt.Fprintf(b, "    %s[\"%s<br/>(not routed)\"]\n", hostID, label(host))
		return
	}
	fmt.Fprintf(b, "    %s[\"%s<br/>%s\"]\n", hostID, label(host), label(role))
	clusters := map[string]string{}
	for k, rt := range hv.routes {
		routeID := fmt.Sprintf("%sr%d", id, k)
		fmt.Fprintf(b, "    %s --> %s{{\"%s\"}}\n", hostID, routeID, label(describeMatchOf(rt)))
		if rt.raw.GetRoute() == nil {
			fmt.Fprintf(b, "    %s --> %sx%d[\"%s\"]\n", routeID, id, k, label(actionKind(rt.raw)))
			continue
		}
		for _, d := range rt.dests {
			cid, ok := clusters[d.cluster]
			if !ok {
				cid = fmt.Sprintf("%sc%d", id, len(clusters))
				clusters[d.cluster] = cid
				fmt.Fprintf(b, "    %s[\"%s\"]\n", cid, label(clusterLabel(d.cluster)))
			}
			fmt.Fprintf(b, "    %s -- \"%s\" --> %s\n", routeID, percent(d.weight, rt.dests), cid)
		}
	}
}

// label escapes text for a quoted Mermaid label.
func label(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
