package compiler_test

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwt "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcp "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/compiler/xds"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// TestServedClustersCoverRoutes: in every golden tree, for every role and every proxy place
// the tree can tell apart (each namespace it names, none, one it does not name, with each
// Sidecar's and Gateway's labels), every cluster a route or listener served there names
// (destinations, weighted clusters, mirrors, TCP proxies, JWKS fetches) is served there too,
// with its endpoints: a proxy never holds a route to a cluster it was not sent (the Go proxy
// would hold the new routes back, then answer "unknown cluster").
func TestServedClustersCoverRoutes(t *testing.T) {
	cases, err := filepath.Glob("../testdata/compiler/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range cases {
		files, err := source.ReadDir(filepath.Join(dir, "in"))
		if err != nil {
			t.Fatal(err)
		}
		tree, findings := schema.Load(files)
		if schema.HasErrors(findings) {
			continue
		}
		snap, _ := compiler.Compile(tree)
		if snap == nil {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			for _, place := range treePlaces(tree) {
				for _, r := range snap.Roles {
					lr, err := snap.Localized(r, place)
					if err != nil {
						t.Fatal(err)
					}
					checkCovered(t, r, place, lr)
				}
			}
		})
	}
}

// treePlaces are the proxy places a tree tells apart.
func treePlaces(tree *schema.Tree) []compiler.Place {
	namespaces := map[string]bool{"": true, "elsewhere": true}
	labels := []map[string]string{nil}
	for _, d := range tree.Documents {
		namespaces[d.Namespace] = true
		switch spec := d.Spec.(type) {
		case *schema.Sidecar:
			if spec.WorkloadSelector != nil {
				labels = append(labels, spec.WorkloadSelector.Labels)
			}
		case *schema.Gateway:
			labels = append(labels, spec.Selector)
		}
	}
	var out []compiler.Place
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		for _, l := range labels {
			out = append(out, compiler.Place{Namespace: ns, Labels: l})
		}
	}
	return out
}

func checkCovered(t *testing.T, compiled *compiler.Role, place compiler.Place, r *compiler.Role) {
	t.Helper()
	role := compiled.Name
	served, carried, exists := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, res := range r.Resources[resource.ClusterType] {
		served[res.(*cluster.Cluster).GetName()] = true
	}
	for _, res := range compiled.Resources[resource.ClusterType] {
		c := res.(*cluster.Cluster)
		scope, err := xds.ClusterScope(c)
		if err != nil {
			t.Fatal(err)
		}
		carried[c.GetName()] = carried[c.GetName()] || scope.Has(place.Namespace)
		exists[c.GetName()] = true
	}
	missing := func(what, name string) {
		// A cluster the role carries only in a variant for other namespaces (a subset of a
		// DestinationRule the place does not see, which the compiler checks where the route
		// applies: a gateway's in its Gateway's namespace) is no part of the place's view of
		// services. One the role does not carry at all is missing: the gRPC role leaves out a
		// service it cannot serve together with the listeners whose routes send to it.
		if name == "" || served[name] {
			return
		}
		switch {
		case !exists[name]:
			t.Errorf("%s at %+v: %s names cluster %s, which the role does not carry", role, place, what, name)
		case carried[name]:
			t.Errorf("%s at %+v: %s names cluster %s, which is not served there", role, place, what, name)
		}
	}
	for _, res := range r.Resources[resource.RouteType] {
		rc := res.(*route.RouteConfiguration)
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				what := "route " + rc.GetName() + "/" + vh.GetName() + "/" + rt.GetName()
				a := rt.GetRoute()
				missing(what, a.GetCluster())
				for _, wc := range a.GetWeightedClusters().GetClusters() {
					missing(what+" (weighted)", wc.GetName())
				}
				for _, m := range a.GetRequestMirrorPolicies() {
					missing(what+" (mirror)", m.GetCluster())
				}
			}
		}
	}
	for _, res := range r.Resources[resource.ListenerType] {
		l := res.(*listener.Listener)
		chains := append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain())
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				var tp tcp.TcpProxy
				if f.GetTypedConfig().UnmarshalTo(&tp) == nil {
					missing("tcp proxy of listener "+l.GetName(), tp.GetCluster())
					for _, wc := range tp.GetWeightedClusters().GetClusters() {
						missing("tcp proxy of listener "+l.GetName(), wc.GetName())
					}
					continue
				}
				var m hcm.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&m) != nil {
					continue
				}
				for _, hf := range m.GetHttpFilters() {
					var ja jwt.JwtAuthentication
					if hf.GetTypedConfig().UnmarshalTo(&ja) != nil {
						continue
					}
					for _, p := range ja.GetProviders() {
						missing("jwks of listener "+l.GetName(), p.GetRemoteJwks().GetHttpUri().GetCluster())
					}
				}
			}
		}
	}
}
