package compiler

import (
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
)

// Compile turns a validated tree into a sealed Snapshot. Findings of error severity mean no
// snapshot (nil): an invalid tree is never published.
func Compile(tree *schema.Tree) (*Snapshot, []schema.Finding) {
	mesh, findings := BuildIR(tree)
	if schema.HasErrors(findings) {
		return nil, findings
	}
	snap, err := FromIR(mesh)
	if err != nil {
		// The IR passed every user-facing check, so this is a compiler defect: say so plainly.
		return nil, append(findings, schema.Finding{Severity: schema.SeverityError,
			Message: "internal compiler error: " + err.Error()})
	}
	return snap, findings
}

// CompileFiles loads, validates, analyses and compiles a policy tree in one step.
func CompileFiles(files []schema.File) (*Snapshot, []schema.Finding) {
	return CompileFilesWithOptions(files, schema.Options{})
}

// CompileFilesWithOptions is CompileFiles loading the tree with opts (--ignore-unknown).
func CompileFilesWithOptions(files []schema.File, opts schema.Options) (*Snapshot, []schema.Finding) {
	tree, findings := schema.LoadWithOptions(files, opts)
	if schema.HasErrors(findings) {
		return nil, findings
	}
	// Analysis reports cross-resource mistakes with their codes; when it found errors, the
	// translation would only report the same mistakes again, uncoded.
	findings = append(findings, analysis.Run(tree)...)
	if schema.HasErrors(findings) {
		return nil, findings
	}
	snap, more := Compile(tree)
	return snap, append(findings, more...)
}

// FromIR converts every role of the IR to xDS resources and seals the snapshot. A cluster or
// virtual host shared by several roles is converted once: its protos are immutable once built.
func FromIR(mesh *ir.Mesh) (*Snapshot, error) {
	s := &Snapshot{local: &localities{}}
	type builtCluster struct {
		cluster, endpoints types.Resource
	}
	built := struct {
		clusters map[*ir.Cluster]builtCluster
		vhosts   map[vhostKey]*route.VirtualHost
	}{map[*ir.Cluster]builtCluster{}, map[vhostKey]*route.VirtualHost{}}
	for _, r := range mesh.Roles {
		role := &Role{Name: r.Name, Selector: r.Selector, Resources: map[resource.Type][]types.Resource{}}
		for _, l := range r.Listeners {
			lis, err := xds.Listener(l)
			if err != nil {
				return nil, err
			}
			routeConfig := func(name string, vhs []*ir.VirtualHost) error {
				var vhosts []*route.VirtualHost
				for _, vh := range vhs {
					key := vhostKey{vh, l.Proxyless}
					v, ok := built.vhosts[key]
					if !ok {
						var err error
						if v, err = xds.VirtualHost(vh, key.proxyless); err != nil {
							return err
						}
						built.vhosts[key] = v
					}
					vhosts = append(vhosts, v)
				}
				rc, err := xds.RouteConfigurationOf(name, vhosts)
				if err != nil {
					return err
				}
				role.Resources[resource.RouteType] = append(role.Resources[resource.RouteType], rc)
				return nil
			}
			if lists := role.Resources[resource.ListenerType]; len(lists) > 0 && lists[len(lists)-1].(*listener.Listener).Name == l.Name {
				// Another certificate on the same port: one more filter chain of that listener.
				if err := xds.MergeChains(lists[len(lists)-1].(*listener.Listener), lis); err != nil {
					return nil, err
				}
			} else {
				role.Resources[resource.ListenerType] = append(role.Resources[resource.ListenerType], lis)
			}
			if l.ForwardsConnections() {
				continue // a TCP or passthrough listener names its clusters itself: no routes
			}
			if !l.Scoped {
				if err := routeConfig(l.RouteName, l.VirtualHosts); err != nil {
					return nil, err
				}
				continue
			}
			for _, sc := range routeScopes(l) {
				if err := routeConfig(sc.routeName, sc.vhosts); err != nil {
					return nil, err
				}
				for _, k := range sc.keys {
					sr, err := xds.ScopedRoute(l.RouteName, k, sc.routeName)
					if err != nil {
						return nil, err
					}
					role.Resources[resource.ScopedRouteType] = append(role.Resources[resource.ScopedRouteType], sr)
				}
			}
		}
		for _, c := range r.Clusters {
			bc, ok := built.clusters[c]
			if !ok {
				cl, err := xds.Cluster(c)
				if err != nil {
					return nil, err
				}
				bc.cluster = cl
				// DNS clusters carry their endpoints inline: nothing to send by EDS.
				if c.Discovery == ir.DiscoveryEDS {
					cla, err := xds.LoadAssignment(c)
					if err != nil {
						return nil, err
					}
					bc.endpoints = cla
				}
				built.clusters[c] = bc
			}
			role.Resources[resource.ClusterType] = append(role.Resources[resource.ClusterType], bc.cluster)
			if bc.endpoints != nil {
				role.Resources[resource.EndpointType] = append(role.Resources[resource.EndpointType], bc.endpoints)
			}
		}
		s.Roles = append(s.Roles, role)
	}
	if err := s.seal(); err != nil {
		return nil, err
	}
	return s, nil
}

// vhostKey names one built form of a virtual host.
type vhostKey struct {
	vh        *ir.VirtualHost
	proxyless bool
}
