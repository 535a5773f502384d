package compiler

import (
	"fmt"
	"slices"

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

// duplicateHost reports a host declared again by d, the i-th of its hosts. Istio would keep a
// Kubernetes Service over a ServiceEntry without a word (appendSidecarServices in
// pilot/pkg/model/sidecar.go); signalbox refuses the pair rather than pick one silently. Two
// ServiceEntries of one namespace Istio merges when their resolution, exportTo and labels
// agree (canMergeServices: ports joined; its serviceentry registry pools their endpoints
// under the host and namespace) and otherwise keeps the older; signalbox refuses them too.
func (b *builder) duplicateHost(d *schema.Document, i int, host string, prev *service) {
	path := d.EntryPath(fmt.Sprintf("spec.hosts[%d]", i))
	for _, e := range prev.hostEntries() {
		if e.doc.Kind == schema.KindService || e.doc.Namespace == d.Namespace {
			prev = e
		}
	}
	if prev.doc.Kind == schema.KindService && d.Kind == schema.KindServiceEntry {
		b.errorf(d, path, "host %q is already declared by Kubernetes Service %s/%s at %s: Istio's registry would take the Service and ignore this ServiceEntry; declare the host once",
			host, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
		return
	}
	if prev.doc.Kind == schema.KindServiceEntry && d.Kind == schema.KindServiceEntry && prev.doc.Namespace == d.Namespace {
		b.errorf(d, path, "host %q is already declared by ServiceEntry %s/%s at %s in the same namespace: Istio merges two ServiceEntries of one namespace for a host when their resolution, exportTo and labels agree (ports joined, endpoints pooled) and otherwise keeps the older one alone, which signalbox does not do yet; declare the host once per namespace (ServiceEntries of other namespaces may declare it too)",
			host, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
		return
	}
	b.errorf(d, path, "host %q is already declared by %s %s/%s at %s", host, prev.doc.Kind, prev.doc.Namespace, prev.doc.Name, prev.doc.Pos)
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
