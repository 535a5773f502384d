package compiler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// service is a host declared by a ServiceEntry, with the DestinationRule every proxy takes for it.
type service struct {
	host  string
	doc   *schema.Document
	entry *schema.ServiceEntry
	// rule is the host's DestinationRule (the rules of its one namespace, merged: drmerge.go)
	// when every proxy takes it; nil for none, or when variants are set.
	rule *destRule
	// variants, for a host whose DestinationRules are not all exported everywhere (or that has
	// several, in different namespaces), are the cluster variants its proxies are served by
	// namespace (drexport.go); rule is then unset.
	variants []ruleVariant
	// endpoints are the entry's own, or the WorkloadEntries its workloadSelector picks.
	endpoints []schema.WorkloadEndpoint
	// entries, for a host ServiceEntries of several namespaces declare, are each namespace's,
	// in namespace order (seexport.go); the host's service (b.services) is the first, and its
	// variants are every entry's. nil for a host declared once.
	entries []*service
	// seen is the namespaces whose proxies see this entry of such a host (entryFor), and scope
	// those served its clusters (seen and, for one entry, the namespaces that see none); both
	// nil for a host declared once.
	seen, scope *ir.NamespaceScope
	// pooled are the endpoints of a ServiceEntry of this Kubernetes Service's host and
	// namespace that Istio's EDS serves with the Service's own (kubeservice.go).
	pooled []pooledEndpoint
	// aliases are the hosts of the ExternalName Services that resolve to this service, which
	// its virtual hosts answer too (kubeservice.go).
	aliases []string
}

func (s *service) port(n uint32) (schema.ServicePort, bool) {
	for _, p := range s.entry.Ports {
		if p.Number == n {
			return p, true
		}
	}
	return schema.ServicePort{}, false
}

// sortedPorts returns the port numbers, lowest first: the lowest is the default for bare names.
func (s *service) sortedPorts() []uint32 {
	var ps []uint32
	for _, p := range s.entry.Ports {
		ps = append(ps, p.Number)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

func (s *service) hasSubset(name string) bool {
	if s.variants != nil {
		return slices.ContainsFunc(s.variants, func(v ruleVariant) bool { return v.hasSubset(name) })
	}
	return s.rule != nil && s.rule.subset(name) != nil
}

// dnsResolved reports whether the proxy resolves the service's endpoints by DNS.
func (s *service) dnsResolved() bool {
	return s.entry.Resolution == "DNS" || s.entry.Resolution == "DNS_ROUND_ROBIN"
}

// collectServices indexes every host of a ServiceEntry or Kubernetes Service with its
// endpoints, then attaches DestinationRules.
func (b *builder) collectServices() {
	b.services = map[string]*service{}
	var externalNames []*schema.Document
	for _, d := range b.entryDocs() {
		if ks, ok := d.Spec.(*schema.KubernetesService); ok && ks.ExternalNameType() && ks.ExternalName != "" {
			// Whether it is an alias depends on every other service: after them.
			externalNames = append(externalNames, d)
			continue
		}
		b.addEntryDoc(d)
	}
	b.resolveExternalNames(externalNames)
	for _, h := range sortedKeys(b.services) {
		svc := b.services[h]
		if svc.entries == nil {
			continue
		}
		entries := svc.entries
		slices.SortStableFunc(entries, func(x, y *service) int { return strings.Compare(x.doc.Namespace, y.doc.Namespace) })
		b.chooseEntries(entries)
		// The host's service is its first entry in namespace order, which carries them all.
		first := entries[0]
		first.entries = entries
		first.aliases = svc.aliases
		b.services[h] = first
	}
	b.collectRules()
}

// entryEndpoints are a ServiceEntry's own endpoints, or the WorkloadEntries its
// workloadSelector picks: Istio selects WorkloadEntries of the entry's namespace by labels.
func (b *builder) entryEndpoints(d *schema.Document, se *schema.ServiceEntry) []schema.WorkloadEndpoint {
	ws := se.WorkloadSelector
	if ws == nil {
		return se.Endpoints
	}
	var endpoints []schema.WorkloadEndpoint
	for _, w := range b.docs(schema.KindWorkloadEntry) {
		we := w.Spec.(*schema.WorkloadEntry)
		if w.Namespace == d.Namespace && labelsMatch(ws.Labels, we.Labels) {
			endpoints = append(endpoints, *we)
		}
	}
	return endpoints
}

// addEntryDoc indexes the hosts of one document declaring services.
func (b *builder) addEntryDoc(d *schema.Document) {
	se := entryOf(d)
	endpoints := b.entryEndpoints(d, se)
	for i, h := range se.Hosts {
		if prev, ok := b.services[h]; ok {
			if b.kubernetesFirst(d, i, h, prev, endpoints) {
				continue
			}
			if !b.anotherNamespace(d, h, prev) {
				b.duplicateHost(d, i, h, prev)
				continue
			}
			prev.entries = append(prev.hostEntries(), &service{host: h, doc: d, entry: se, endpoints: endpoints})
			continue
		}
		b.services[h] = &service{host: h, doc: d, entry: se, endpoints: endpoints}
	}
	b.checkEntry(d, se)
	if d.Kind == schema.KindService {
		b.checkKubernetesService(d, endpoints)
	}
}

// checkEntry reports what a ServiceEntry asks that signalbox cannot do.
func (b *builder) checkEntry(d *schema.Document, se *schema.ServiceEntry) {
	switch se.Resolution {
	case "", "NONE", "STATIC":
		for i, ep := range se.Endpoints {
			if _, err := netip.ParseAddr(ep.Address); err != nil {
				b.errorf(d, fmt.Sprintf("spec.endpoints[%d].address", i),
					"address %q must be an IP address with resolution %s", ep.Address, orDefault(se.Resolution, "NONE"))
			}
		}
	case "DNS_ROUND_ROBIN":
		if len(se.Endpoints) > 1 {
			b.errorf(d, "spec.endpoints", "resolution DNS_ROUND_ROBIN takes at most one endpoint (Envoy's LOGICAL_DNS)")
		}
	}
	if se.WorkloadSelector != nil && len(se.Endpoints) > 0 {
		b.errorf(d, "spec.workloadSelector", "a ServiceEntry has either endpoints or a workloadSelector")
	}
	b.checkServiceEntryExportTo(d, se)
}

// buildClusters makes one cluster per service port and one per (port, subset), each with the
// traffic policy the DestinationRule gives it.
func (b *builder) buildClusters() {
	b.clusters, b.variants = map[string]*ir.Cluster{}, map[string][]*ir.Cluster{}
	for _, h := range slices.Sorted(maps.Keys(b.services)) {
		svc := b.services[h]
		if svc.variants != nil {
			for i := range svc.variants {
				v := &svc.variants[i]
				e := v.entryOf(svc)
				for _, p := range e.entry.Ports {
					b.addCluster(e, v.rule, v.scope, p, nil)
					for j := range v.subsets() {
						b.addCluster(e, v.rule, v.scope, p, &v.subsets()[j])
					}
				}
			}
			continue
		}
		for _, p := range svc.entry.Ports {
			b.addCluster(svc, svc.rule, nil, p, nil)
			if svc.rule == nil {
				continue
			}
			for i := range svc.rule.subsets {
				b.addCluster(svc, svc.rule, nil, p, &svc.rule.subsets[i])
			}
		}
	}
}

func (b *builder) addCluster(svc *service, rule *destRule, scope *ir.NamespaceScope, p schema.ServicePort, subset *ruleSubset) {
	c := &ir.Cluster{Host: svc.host, Port: p.Number, HTTP2: http2Protocol(p.Protocol), For: scope}
	var labels map[string]string
	if subset != nil {
		c.Subset, labels = subset.Name, subset.Labels
	}
	c.Name = clusterName(p.Number, c.Subset, svc.host)
	switch svc.entry.Resolution {
	case "DNS":
		c.Discovery = ir.DiscoveryStrictDNS
	case "DNS_ROUND_ROBIN":
		c.Discovery = ir.DiscoveryLogicalDNS
	}
	c.Policy = b.clusterPolicy(svc, rule, p.Number, subset)
	// Endpoints carry their labels only where the publisher needs them.
	byLabel := c.Policy.Locality != nil && len(c.Policy.Locality.FailoverPriority) > 0
	for _, ep := range svc.endpoints {
		if !labelsMatch(labels, ep.Labels) {
			continue
		}
		port := p.Number
		if p.TargetPort != 0 {
			port = p.TargetPort
		}
		if n, ok := ep.Ports[p.Name]; ok && p.Name != "" {
			port = n
		}
		if p.TargetPortName != "" {
			// A Kubernetes Service's named targetPort is the endpoint's port of that name, and
			// an endpoint without one serves no traffic of this port, as Istio's
			// serviceInstanceFromWorkloadInstance has it.
			n, ok := ep.Ports[p.TargetPortName]
			if !ok {
				continue
			}
			port = n
		}
		c.Endpoints = append(c.Endpoints, ir.Endpoint{Address: ep.Address, Port: port, Weight: ep.Weight, Locality: ep.Locality})
		if byLabel {
			c.Endpoints[len(c.Endpoints)-1].Labels = topologyLabels(ep.Labels, ep.Locality, ep.Network)
		}
	}
	for _, pe := range svc.pooled {
		// Istio's EDS keeps an endpoint of another registry whose service port name is the
		// Service port's (BuildClusterLoadAssignment in pilot/pkg/xds/endpoints/
		// endpoint_builder.go).
		if pe.portName == p.Name && labelsMatch(labels, pe.ep.Labels) {
			c.Endpoints = append(c.Endpoints, ir.Endpoint{Address: pe.ep.Address, Port: pe.port, Weight: pe.ep.Weight, Locality: pe.ep.Locality})
			if byLabel {
				c.Endpoints[len(c.Endpoints)-1].Labels = topologyLabels(pe.ep.Labels, pe.ep.Locality, pe.ep.Network)
			}
		}
	}
	// A DNS service without endpoints resolves its own host name, as Istio does.
	if svc.dnsResolved() && len(svc.endpoints) == 0 && len(labels) == 0 {
		port := p.Number
		if p.TargetPort != 0 {
			port = p.TargetPort
		}
		c.Endpoints = []ir.Endpoint{{Address: svc.host, Port: port}}
	}
	sort.Slice(c.Endpoints, func(i, j int) bool {
		a, e := c.Endpoints[i], c.Endpoints[j]
		if a.Locality != e.Locality {
			return a.Locality < e.Locality
		}
		if a.Address != e.Address {
			return a.Address < e.Address
		}
		return a.Port < e.Port
	})
	if svc.seen != nil {
		if b.clusterEntry == nil {
			b.clusterEntry = map[*ir.Cluster]*service{}
		}
		b.clusterEntry[c] = svc
	}
	if scope != nil {
		b.variants[c.Name] = append(b.variants[c.Name], c)
		if _, ok := b.clusters[c.Name]; ok {
			return
		}
	}
	b.clusters[c.Name] = c
}

// http2Protocol reports a port protocol Istio's clusters speak HTTP/2 upstream for: its
// protocol.Instance.IsHTTP2 (pkg/config/protocol/instance.go), HTTP2, GRPC and GRPC-Web.
func http2Protocol(p string) bool {
	return p == "GRPC" || p == "HTTP2" || p == "GRPC-WEB"
}

// clustersNamed is every variant of the cluster of this name (one unless its host's
// DestinationRules are chosen by namespace), nil for none.
func (b *builder) clustersNamed(name string) []*ir.Cluster {
	if vs := b.variants[name]; vs != nil {
		return vs
	}
	if c := b.clusters[name]; c != nil {
		return []*ir.Cluster{c}
	}
	return nil
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
