package compiler

import (
	"github.com/signalbox/signalbox/compiler/ir"
)

// markVisible records on each cluster which proxies see its service (ir.Cluster.Visible), as
// Istio's SidecarScope chooses the services a proxy is sent clusters (and endpoints) for
// (pilot/pkg/model/sidecar.go: collectImportedServices, then BuildClusters in
// pilot/pkg/networking/core/cluster.go builds CDS from SidecarScope.Services() alone):
//
//   - the services exported to the proxy's namespace (servicesExportedToNamespace: ServiceEntry
//     exportTo), of those the ones the egress hosts of the Sidecar applying to it admit
//     (selectServices: "ns/host", "./host", "*/host"; "~/" admits nothing);
//   - plus the destinations of the VirtualServices that Sidecar admits, when visible to the
//     namespace (the "infer more possible destinations from virtual services" loop), which
//     visibility.ofService already counts for the service's routes.
//
// Gateways take no Sidecar (PushContext.getSidecarScope gives them
// DefaultSidecarScopeForGateway: the services exported to the gateway proxy's namespace), and
// the publisher chooses no Sidecar for them, as their listeners carry none: the namespaces
// alone decide there. A cluster whose service every proxy sees carries nothing, so a tree
// without Sidecars or narrowed exportTo compiles as before and is served as compiled.
func (b *builder) markVisible(clusters []*ir.Cluster, vis *visibility) {
	byEntry := map[*service]*ir.Source{}
	for _, c := range clusters {
		svc := b.services[c.Host]
		if e := b.clusterEntry[c]; e != nil {
			svc = e // a host several namespaces declare: the entry of this variant
		}
		if svc == nil {
			continue
		}
		s, seen := byEntry[svc]
		if !seen {
			s = serviceVisibility(svc, vis)
			byEntry[svc] = s
		}
		c.Visible = s
	}
}

// serviceVisibility is which proxies see svc: the namespaces it is exported to and the
// Sidecars that admit it, narrowed to those that can apply in those namespaces (as a route's,
// so a Sidecar change in a namespace that cannot see the service leaves it alone); nil for
// every proxy.
func serviceVisibility(svc *service, vis *visibility) *ir.Source {
	s := &ir.Source{Namespaces: svc.exportedTo()}
	if vis != nil {
		s.Sidecars = vis.ofService(svc)
	}
	if s.Namespaces == nil && s.Sidecars == nil {
		return nil
	}
	r := &ir.Route{Source: s}
	vis.narrow([]*ir.Route{r})
	if s.Sidecars != nil && len(s.Sidecars) == 0 {
		// An empty list would read back as "every proxy": no Sidecar's proxy sees it.
		s.Sidecars = []string{"~"}
	}
	return s
}
