package compiler

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// A Kubernetes Service declares a service as a ServiceEntry does: the loader converts it to the
// ServiceEntry Istio's Kubernetes registry makes of it (schema.KubernetesService.Entry), and
// everything from here on (clusters, subsets, exportTo, Sidecar scoping, ISTIO_MUTUAL
// identities) reads that form. What is the Service's own is here: which of its cases signalbox
// can honour, and what it says when it knows no endpoint of one.

// entryDocs returns the documents that declare services: Kubernetes Services first, since
// Istio's aggregate registry lists the Kubernetes registry before the others and its
// PushContext keeps a Kubernetes Service over a ServiceEntry for the same host and namespace.
func (b *builder) entryDocs() []*schema.Document {
	return append(b.docs(schema.KindService), b.docs(schema.KindServiceEntry)...)
}

// entryOf is the ServiceEntry a document declaring services stands for.
func entryOf(d *schema.Document) *schema.ServiceEntry {
	if ks, ok := d.Spec.(*schema.KubernetesService); ok {
		return ks.Entry
	}
	return d.Spec.(*schema.ServiceEntry)
}

// anotherNamespace reports whether ServiceEntry d declares host h in a namespace none of the
// host's entries is in, all ServiceEntries: Istio keeps such entries apart and each proxy sees
// one of them (seexport.go).
func (b *builder) anotherNamespace(d *schema.Document, host string, prev *service) bool {
	if d.Kind != schema.KindServiceEntry {
		return false
	}
	for _, e := range prev.hostEntries() {
		if e.doc.Kind != schema.KindServiceEntry || e.doc.Namespace == d.Namespace {
			return false
		}
	}
	return true
}

// duplicateHost reports a host declared again by d, the i-th of its hosts, by two
// ServiceEntries of one namespace (a Kubernetes Service beside a ServiceEntry is kubernetesFirst's).
// Istio merges them when their resolution, exportTo and labels agree (canMergeServices in
// pilot/pkg/model/sidecar.go: ports joined; its serviceentry registry pools their endpoints
// under the host and namespace) and otherwise keeps the older; signalbox refuses them.
func (b *builder) duplicateHost(d *schema.Document, i int, host string, prev *service) {
	path := d.EntryPath(fmt.Sprintf("spec.hosts[%d]", i))
	for _, e := range prev.hostEntries() {
		if e.doc.Namespace == d.Namespace {
			prev = e
		}
	}
	if prev.doc.Kind == schema.KindServiceEntry && d.Kind == schema.KindServiceEntry && prev.doc.Namespace == d.Namespace {
		b.errorf(d, path, "host %q is already declared by ServiceEntry %s/%s at %s in the same namespace: Istio merges two ServiceEntries of one namespace for a host when their resolution, exportTo and labels agree (ports joined, endpoints pooled) and otherwise keeps the older one alone, which signalbox does not do yet; declare the host once per namespace (ServiceEntries of other namespaces may declare it too)",
			host, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
		return
	}
	b.errorf(d, path, "host %q is already declared by %s %s/%s at %s", host, prev.doc.Kind, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
}

// pooledEndpoint is an endpoint of a ServiceEntry served in a Kubernetes Service's clusters:
// on the Service's port named portName, at port.
type pooledEndpoint struct {
	ep       schema.WorkloadEndpoint
	portName string
	port     uint32
}

// kubernetesFirst handles ServiceEntry d declaring, as its i-th host, a host a Kubernetes
// Service declares, and reports whether it did. Istio keeps both registries, the Kubernetes one
// first (pilot/pkg/serviceregistry/aggregate/controller.go), and for one hostname takes the
// Kubernetes Service over any other: initServiceRegistry in pilot/pkg/model/push_context.go
// (against "domain squatting" on the host before the Service exists) and, per proxy,
// appendSidecarServices in pilot/pkg/model/sidecar.go, which replaces a ServiceEntry's
// service by the Kubernetes one and never merges the two.
func (b *builder) kubernetesFirst(d *schema.Document, i int, host string, prev *service, endpoints []schema.WorkloadEndpoint) bool {
	if d.Kind != schema.KindServiceEntry {
		return false
	}
	for _, e := range prev.hostEntries() {
		if e.doc.Kind == schema.KindService {
			b.keepKubernetes(e.doc, e, d, i, host, endpoints)
			return true
		}
	}
	return false
}

// keepKubernetes leaves ServiceEntry d out for host (its i-th), which Kubernetes Service kd
// declares (k its service; nil for an ExternalName alias, which has none), with a warning
// naming what is left out. Istio's EDS still serves, in the Service's clusters, the endpoints
// of every registry for the host in the Service's namespace (EndpointIndex.ShardsForService by
// host and namespace, in BuildClusterLoadAssignment of pilot/pkg/xds/endpoints/
// endpoint_builder.go), keeping those whose service port name is the Service port's and whose
// address is an IP: so a ServiceEntry of the Service's namespace adds its endpoints on ports
// named as the Service's, and they are pooled here. Where the entry is seen by namespaces
// that do not see the Service, Istio's proxies there take the entry; signalbox refuses that.
func (b *builder) keepKubernetes(kd *schema.Document, k *service, d *schema.Document, i int, host string, endpoints []schema.WorkloadEndpoint) {
	se := entryOf(d)
	path := d.EntryPath(fmt.Sprintf("spec.hosts[%d]", i))
	kExported := schema.ExportedTo(kd.Namespace, entryOf(kd).ExportTo)
	if !exportedWithin(schema.ExportedTo(d.Namespace, se.ExportTo), kExported) {
		b.unsupportedf(d, path, "host %q is also declared by Kubernetes Service %s/%s at %s, which fewer namespaces see: Istio's proxies that see the Service take it for the host (appendSidecarServices prefers a Kubernetes Service) and those that see only this ServiceEntry take the entry, which signalbox does not choose by yet; export the ServiceEntry to no namespace the Service is not exported to",
			host, kd.Namespace, kd.Name, kd.Pos)
		return
	}
	var pooled []string
	if k != nil && d.Namespace == kd.Namespace && !k.dnsResolved() {
		for _, sp := range se.Ports {
			if !slices.ContainsFunc(k.entry.Ports, func(p schema.ServicePort) bool { return p.Name == sp.Name }) {
				continue
			}
			n := len(k.pooled)
			for _, ep := range endpoints {
				if _, err := netip.ParseAddr(ep.Address); err != nil {
					continue // a DNS name: Istio's EDS filters it out
				}
				// The entry's endpoint port, as Istio's serviceentry conversion gives it: the
				// endpoint's port of the port's name, else targetPort, else the number.
				port := sp.Number
				if sp.TargetPort != 0 {
					port = sp.TargetPort
				}
				if n, ok := ep.Ports[sp.Name]; ok {
					port = n
				}
				k.pooled = append(k.pooled, pooledEndpoint{ep: ep, portName: sp.Name, port: port})
			}
			if len(k.pooled) > n {
				pooled = append(pooled, fmt.Sprintf("%q", sp.Name))
			}
		}
	}
	what := "its ports, resolution, location and exportTo"
	switch {
	case len(pooled) > 0:
		what += fmt.Sprintf(" are left out, while its endpoints on ports %s, named as the Service's, join the Service's endpoints (Istio's EDS serves every registry's endpoints of the host in the Service's namespace)", strings.Join(pooled, ", "))
	case k == nil:
		what += " are left out: the Service is an ExternalName alias, which has no endpoints"
	default:
		what += ", and its endpoints, are left out (Istio's EDS adds to the Service's only those of a ServiceEntry of the Service's namespace, with IP addresses, on ports named as the Service's)"
	}
	b.warnf(d, path, "host %q is also declared by Kubernetes Service %s/%s at %s: Istio takes the Kubernetes Service for a host (initServiceRegistry, appendSidecarServices), so for this host %s",
		host, kd.Namespace, kd.Name, kd.Pos, what)
}

// exportedWithin reports whether every namespace that sees a service exported to inner (nil:
// every namespace; ["~"]: none) also sees one exported to outer.
func exportedWithin(inner, outer []string) bool {
	switch {
	case outer == nil || exportedNowhere(inner):
		return true
	case inner == nil || exportedNowhere(outer):
		return false
	}
	for _, ns := range inner {
		if !slices.Contains(outer, ns) {
			return false
		}
	}
	return true
}

// resolveExternalNames makes each ExternalName Service an alias of the service its
// externalName names, as Istio does by default (ENABLE_EXTERNAL_NAME_ALIAS in
// pilot/pkg/features; ConvertService in pilot/pkg/serviceregistry/kube/conversion.go gives it
// resolution Alias; resolveServiceAliases in pilot/pkg/model/push_context.go follows chains of
// ExternalNames and drops loops): no cluster of its own, its host answered by every virtual
// host of its target (generateVirtualHostDomains in pilot/pkg/networking/core/route/route.go
// adds each alias beside the service's host). Its ports, VirtualServices and DestinationRules
// for the alias host no longer apply in Istio. A Service whose externalName is no service of
// the tree keeps the DNS cluster of Istio's older conversion: Istio's proxies send such an
// alias's requests on as for an unknown host, to the address the client's DNS resolved (a
// CNAME to the external name), which a signalbox sidecar, reached by Host, does not have.
func (b *builder) resolveExternalNames(docs []*schema.Document) {
	external := map[string]string{}
	for _, d := range docs {
		ks := d.Spec.(*schema.KubernetesService)
		external[ks.Entry.Hosts[0]] = ks.ExternalName
	}
	for _, d := range docs {
		ks := d.Spec.(*schema.KubernetesService)
		host := ks.Entry.Hosts[0]
		// Istio keeps the Kubernetes Service over ServiceEntries of its host, alias or not.
		if prev, ok := b.services[host]; ok {
			for _, e := range prev.hostEntries() {
				b.keepKubernetes(d, nil, e.doc, slices.Index(e.entry.Hosts, host), host, e.endpoints)
			}
			delete(b.services, host)
		}
		target, ok := aliasTarget(external, host)
		switch svc := b.services[target]; {
		case !ok:
			b.warnf(d, "spec.externalName", "the ExternalName Services from %s lead back to it: Kubernetes' DNS answers NXDOMAIN for such a loop and Istio resolves no alias, so no proxy routes %s", host, host)
		case svc != nil:
			svc.aliases = append(svc.aliases, host)
		default:
			b.warnf(d, "spec.externalName", "%q is no service the policy tree declares: Istio makes this Service an alias of a host it does not know, and its proxies send requests for %s on as for an unknown host, to the address the client resolved; a signalbox sidecar, reached by Host, has none, so it resolves %q by DNS on the Service's ports instead (Istio's conversion before ENABLE_EXTERNAL_NAME_ALIAS)",
				ks.ExternalName, host, ks.ExternalName)
			b.addEntryDoc(d)
		}
	}
}

// aliasOf is the host of the service an ExternalName Service of host h is an alias of, ""
// for none.
func (b *builder) aliasOf(h string) string {
	for host, svc := range b.services {
		if slices.Contains(svc.aliases, h) {
			return host
		}
	}
	return ""
}

// aliasTarget follows host's externalName through other ExternalName Services (external maps
// each one's host to its externalName) to the host they end at; false for a loop, as Istio's
// resolveServiceAliases has it.
func aliasTarget(external map[string]string, host string) (string, bool) {
	target := external[host]
	seen := map[string]bool{host: true, target: true}
	for {
		next, ok := external[target]
		if !ok {
			return target, true
		}
		if seen[next] {
			return "", false
		}
		seen[next] = true
		target = next
	}
}

// checkKubernetesService reports what a Service asks that signalbox cannot do, and a Service
// whose endpoints it does not know (endpoints: the WorkloadEntries its selector picks).
func (b *builder) checkKubernetesService(d *schema.Document, endpoints []schema.WorkloadEndpoint) {
	ks := d.Spec.(*schema.KubernetesService)
	host := ks.Entry.Hosts[0]
	switch {
	case ks.Headless():
		// Istio's resolution Passthrough: an ORIGINAL_DST cluster that forwards to the pod
		// address the client resolved and dialled. A signalbox sidecar is reached by Host on
		// its own listener and never sees that address.
		b.unsupportedf(d, "spec.clusterIP", "clusterIP None, a headless Service: Istio forwards its requests to the address the client dialled (resolution Passthrough), which a signalbox sidecar, reached by Host, does not have; leave clusterIP unset for signalbox to balance over the WorkloadEntries the selector picks")
	case ks.ExternalNameType():
		// DNS to the external name: nothing to select.
	case len(ks.Selector) == 0:
		b.warnf(d, "spec", "the Service has no selector, so its endpoints are whatever Kubernetes is told by hand (EndpointSlices), which signalbox does not read: it knows none, and requests to %s get 503; give it a selector its WorkloadEntries match", host)
	case len(endpoints) == 0:
		b.warnf(d, "spec.selector", "no WorkloadEntry in namespace %s has the labels %s: signalbox reads no Pods, so it knows none of this Service's endpoints, and requests to %s get 503 until WorkloadEntries with those labels are added",
			d.Namespace, labelList(ks.Selector), host)
	default:
		for i, p := range ks.Entry.Ports {
			name := p.TargetPortName
			if name == "" || slices.ContainsFunc(endpoints, func(ep schema.WorkloadEndpoint) bool { _, ok := ep.Ports[name]; return ok }) {
				continue
			}
			b.warnf(d, fmt.Sprintf("spec.ports[%d].targetPort", i), "none of the %d WorkloadEntries the Service selects names a port %q in its ports, so port %d of %s has no endpoint and its requests get 503 (Istio leaves out an endpoint without the named port)",
				len(endpoints), name, p.Number, host)
		}
	}
}
