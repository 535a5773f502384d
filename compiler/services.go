package compiler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// service is a host declared by a ServiceEntry, with the subsets a DestinationRule gives it.
type service struct {
	host      string
	doc       *schema.Document
	entry     *schema.ServiceEntry
	subsets   []schema.Subset
	subsetDoc *schema.Document
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
	return slices.ContainsFunc(s.subsets, func(x schema.Subset) bool { return x.Name == name })
}

// collectServices indexes every ServiceEntry host, then attaches DestinationRule subsets.
func (b *builder) collectServices() {
	b.services = map[string]*service{}
	for _, d := range b.docs(schema.KindServiceEntry) {
		se := d.Spec.(*schema.ServiceEntry)
		for i, h := range se.Hosts {
			if prev, ok := b.services[h]; ok {
				b.errorf(d, fmt.Sprintf("spec.hosts[%d]", i), "host %q is already declared by ServiceEntry %s/%s at %s",
					h, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
				continue
			}
			b.services[h] = &service{host: h, doc: d, entry: se}
		}
		if se.Resolution == "STATIC" || se.Resolution == "" || se.Resolution == "NONE" {
			for i, ep := range se.Endpoints {
				if _, err := netip.ParseAddr(ep.Address); err != nil {
					b.errorf(d, fmt.Sprintf("spec.endpoints[%d].address", i),
						"address %q must be an IP address with resolution %s", ep.Address, orDefault(se.Resolution, "NONE"))
				}
			}
		}
	}
	for _, d := range b.docs(schema.KindDestinationRule) {
		dr := d.Spec.(*schema.DestinationRule)
		host := expandHost(dr.Host, d.Namespace)
		svc, ok := b.services[host]
		if !ok {
			// Subsets of an undeclared host select nothing; routes naming them are reported there.
			continue
		}
		if svc.subsetDoc != nil {
			b.errorf(d, "spec.host", "host %q already has a DestinationRule: %s/%s at %s",
				host, svc.subsetDoc.Namespace, svc.subsetDoc.Name, svc.subsetDoc.Pos)
			continue
		}
		svc.subsets, svc.subsetDoc = dr.Subsets, d
	}
}

// buildClusters makes one cluster per service port and one per (port, subset).
func (b *builder) buildClusters() {
	b.clusters = map[string]*ir.Cluster{}
	for _, h := range slices.Sorted(maps.Keys(b.services)) {
		svc := b.services[h]
		for _, p := range svc.entry.Ports {
			b.addCluster(svc, p, "", nil)
			for _, ss := range svc.subsets {
				b.addCluster(svc, p, ss.Name, ss.Labels)
			}
		}
	}
}

func (b *builder) addCluster(svc *service, p schema.ServicePort, subset string, labels map[string]string) {
	c := &ir.Cluster{Name: clusterName(p.Number, subset, svc.host), Host: svc.host, Port: p.Number, Subset: subset}
	for _, ep := range svc.entry.Endpoints {
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
		c.Endpoints = append(c.Endpoints, ir.Endpoint{Address: ep.Address, Port: port, Weight: ep.Weight})
	}
	sort.Slice(c.Endpoints, func(i, j int) bool {
		a, e := c.Endpoints[i], c.Endpoints[j]
		if a.Address != e.Address {
			return a.Address < e.Address
		}
		return a.Port < e.Port
	})
	b.clusters[c.Name] = c
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
