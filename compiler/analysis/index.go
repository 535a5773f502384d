package analysis

import (
	"maps"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// meshGateway is Istio's reserved gateway name for sidecars.
const meshGateway = schema.MeshGateway

// expandHost and boundGateways are the language's own rules (schema/hosts.go).
var (
	expandHost    = schema.ExpandHost
	boundGateways = schema.BoundGateways
)

// claimKey is a host routed on one gateway ("mesh" for sidecars).
type claimKey struct{ gateway, host string }

// claimers are the VirtualServices routing one claimKey, in declaration order.
type claimers []*schema.Document

// earlierSeenWith is the first VirtualService before d that some namespace sees together
// with d (exportTo): the one d conflicts with. Nil when d is first or no proxy sees both.
func (cs claimers) earlierSeenWith(d *schema.Document) *schema.Document {
	exported := schema.ExportedTo(d.Namespace, d.Spec.(*schema.VirtualService).ExportTo)
	for _, prev := range cs {
		if prev == d {
			return nil
		}
		if schema.SeenTogether(schema.ExportedTo(prev.Namespace, prev.Spec.(*schema.VirtualService).ExportTo), exported) {
			return prev
		}
	}
	return nil
}

// index is everything the checks look up, built in one pass over the tree.
type index struct {
	services map[string]bool            // hosts declared by ServiceEntries and Services
	subsets  map[string]map[string]bool // expanded DestinationRule host -> subset names
	// wildcardRuleHosts are the DestinationRule hosts of subsets that are wildcards ("*.local"):
	// few, so each destination's lookup checks them alone.
	wildcardRuleHosts []string
	gateways          map[string]bool // "namespace/name" of every Gateway
	// gatewayHosts are the hosts of every server of each Gateway, as written ("ns/host" too).
	gatewayHosts  map[string][]string
	boundGateways map[string]bool // gateways some VirtualService is bound to
	claims        map[claimKey]claimers
	workloads     *workloadIndex
	// entries: each host's endpoints as each of its ServiceEntries (one per namespace) gives
	// them, nil for one whose endpoints are not in the tree (DNS); workloadEntries: the
	// WorkloadEntries alone, which workloadSelectors pick.
	entries         map[string][]*entryEndpoints
	workloadEntries *workloadIndex
}

func buildIndex(tree *schema.Tree) *index {
	idx := &index{
		services:        map[string]bool{},
		subsets:         map[string]map[string]bool{},
		gateways:        map[string]bool{},
		gatewayHosts:    map[string][]string{},
		boundGateways:   map[string]bool{},
		claims:          map[claimKey]claimers{},
		workloads:       newWorkloadIndex(),
		entries:         map[string][]*entryEndpoints{},
		workloadEntries: newWorkloadIndex(),
	}
	for _, d := range tree.Documents {
		switch d.Kind {
		case schema.KindServiceEntry, schema.KindService:
			// A Kubernetes Service is read in the ServiceEntry form Istio's registry makes of
			// it; Services sort before ServiceEntries, so a Service declares its host first, as
			// the compiler has it.
			se := entryOf(d)
			var e *entryEndpoints
			if se.Resolution != "DNS" && se.Resolution != "DNS_ROUND_ROBIN" {
				e = &entryEndpoints{namespace: d.Namespace}
				if se.WorkloadSelector != nil {
					e.bySelector, e.selector = true, se.WorkloadSelector.Labels
				}
			}
			for _, h := range se.Hosts {
				// Every entry of the host, nil for a DNS-resolved one: ServiceEntries of several
				// namespaces may declare it, each seen by some proxies, as the compiler has it.
				idx.entries[h] = append(idx.entries[h], e)
				idx.services[h] = true
			}
			for _, ep := range se.Endpoints {
				idx.workloads.add(d.Namespace, ep.Labels)
				if e != nil && !e.bySelector {
					e.listed = append(e.listed, ep.Labels)
				}
			}
		case schema.KindDestinationRule:
			dr := d.Spec.(*schema.DestinationRule)
			host := expandHost(dr.Host, d.Namespace)
			set := idx.subsets[host]
			if set == nil {
				set = map[string]bool{}
				idx.subsets[host] = set
				if strings.HasPrefix(host, "*") {
					idx.wildcardRuleHosts = append(idx.wildcardRuleHosts, host)
				}
			}
			for _, s := range dr.Subsets {
				set[s.Name] = true
			}
		case schema.KindGateway:
			idx.gateways[d.Namespace+"/"+d.Name] = true
			for _, srv := range d.Spec.(*schema.Gateway).Servers {
				idx.gatewayHosts[d.Namespace+"/"+d.Name] = append(idx.gatewayHosts[d.Namespace+"/"+d.Name], srv.Hosts...)
			}
			// The proxies a Gateway selects carry at least its selector's labels: they are
			// workloads an AuthorizationPolicy can select (the compiler enforces it there).
			if sel := d.Spec.(*schema.Gateway).Selector; len(sel) > 0 {
				idx.workloads.add(d.Namespace, sel)
			}
		case schema.KindWorkloadEntry:
			idx.workloads.add(d.Namespace, d.Spec.(*schema.WorkloadEntry).Labels)
			idx.workloadEntries.add(d.Namespace, d.Spec.(*schema.WorkloadEntry).Labels)
		}
	}
	// Claims second, in document order: the first VirtualService to claim a host keeps it,
	// as the compiler decides.
	for _, d := range tree.Documents {
		if d.Kind != schema.KindVirtualService {
			continue
		}
		vs := d.Spec.(*schema.VirtualService)
		gws := boundGateways(d.Namespace, vs.Gateways)
		for _, g := range gws {
			idx.boundGateways[g] = true
		}
		if len(vs.HTTP) == 0 {
			continue // tcp routes alone claim no host: several may share "*" (one per port)
		}
		for _, h := range vs.Hosts {
			host := expandHost(h, d.Namespace)
			for _, g := range gws {
				// A gateway whose servers do not take the host from this namespace (SB0012) is
				// not claimed there: Istio binds it elsewhere only, so it conflicts with none.
				if !idx.takes(g, host, d.Namespace) {
					continue
				}
				k := claimKey{gateway: g, host: host}
				idx.claims[k] = append(idx.claims[k], d)
			}
		}
	}
	return idx
}

// takes says whether gateway g routes host for a VirtualService in namespace ns: the mesh and
// gateways not declared (SB0003) always; a Gateway if one of its servers' hosts admits it.
func (idx *index) takes(g, host, ns string) bool {
	servers, ok := idx.gatewayHosts[g]
	return g == meshGateway || !ok || anyServerHost(servers, host, ns, g)
}

// entryOf is the ServiceEntry a ServiceEntry or Kubernetes Service document stands for.
func entryOf(d *schema.Document) *schema.ServiceEntry {
	if ks, ok := d.Spec.(*schema.KubernetesService); ok {
		return ks.Entry
	}
	return d.Spec.(*schema.ServiceEntry)
}

// subsetsOf is the subsets DestinationRules define for host: its own rules' and those of the
// rules for wildcard hosts covering it ("*.local"), which apply to it too (the compiler chooses
// among them per proxy namespace; a subset any of them defines may be routed to).
func (idx *index) subsetsOf(host string) (map[string]bool, bool) {
	own, ok := idx.subsets[host]
	var out map[string]bool
	for _, w := range idx.wildcardRuleHosts {
		if !schema.HostCovers(w, host) {
			continue
		}
		if out == nil {
			out = maps.Clone(own)
			if out == nil {
				out = map[string]bool{}
			}
		}
		maps.Copy(out, idx.subsets[w])
	}
	if out == nil {
		return own, ok
	}
	return out, true
}
