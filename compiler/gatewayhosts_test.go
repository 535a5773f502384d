package compiler

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// gatewayHostsTree is a Gateway server for serverHosts and one VirtualService per entry of
// vsHosts (name: its hosts) bound to it, each routing to a service of its own name.
func gatewayHostsTree(serverHosts string, vsHosts map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: %s
`, serverHosts)
	for _, name := range sortedKeys(vsHosts) {
		fmt.Fprintf(&b, `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[1]s.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: %[2]s
  gateways: [edge]
  http:
  - route: [{destination: {host: %[1]s.internal}}]
`, name, vsHosts[name])
	}
	return b.String()
}

// gatewayVirtualHosts is "domain: cluster, cluster…" for each virtual host the gateway serves.
func gatewayVirtualHosts(t *testing.T, s *Snapshot) []string {
	t.Helper()
	r := s.Role("gateway/istio=ingressgateway")
	if r == nil {
		t.Fatal("no gateway role")
	}
	var out []string
	for _, res := range r.Resources[resource.RouteType] {
		for _, vh := range res.(*route.RouteConfiguration).GetVirtualHosts() {
			var clusters []string
			for _, rt := range vh.GetRoutes() {
				clusters = append(clusters, strings.TrimSuffix(strings.TrimPrefix(rt.GetRoute().GetCluster(), "outbound|8080||"), ".internal"))
			}
			out = append(out, vh.GetDomains()[0]+": "+strings.Join(clusters, ", "))
		}
	}
	slices.Sort(out)
	return out
}

// TestGatewayServesTheIntersectionOfHosts: a VirtualService is bound to a Gateway server whose
// hosts overlap its own either way, and served at the narrower of the two, as Istio's
// gateway.go does (serverHosts.Intersection(virtualServiceHosts)); several served at one host
// have their routes merged, the host's own VirtualService first.
func TestGatewayServesTheIntersectionOfHosts(t *testing.T) {
	for name, c := range map[string]struct {
		server string
		vs     map[string]string
		want   []string
	}{
		// Istio's own example: virtualService hosts *.foo.com, server hosts 1.foo.com, 2.foo.com.
		"wildcard VirtualService, specific servers": {`[1.foo.com, 2.foo.com]`, map[string]string{"foo": `["*.foo.com"]`},
			[]string{"1.foo.com: foo", "2.foo.com: foo"}},
		"specific VirtualServices, wildcard server": {`["*.foo.com"]`, map[string]string{"one": `[1.foo.com]`, "two": `[2.foo.com]`},
			[]string{"1.foo.com: one", "2.foo.com: two"}},
		// A catch-all VirtualService does not widen a server to every host of the port.
		"catch-all VirtualService": {`["*.foo.com"]`, map[string]string{"any": `["*"]`},
			[]string{"*.foo.com: any"}},
		// Merged where both are served, the host's own routes first; alone elsewhere.
		"catch-all beside a host's own": {`[1.foo.com, "*.bar.com"]`, map[string]string{"any": `["*"]`, "one": `[1.foo.com]`},
			[]string{"*.bar.com: any", "1.foo.com: one, any"}},
		"no overlap": {`[1.foo.com]`, map[string]string{"bar": `["*.bar.com"]`, "one": `[1.foo.com]`},
			[]string{"1.foo.com: one"}},
	} {
		t.Run(name, func(t *testing.T) {
			s, findings := compileTree(t, gatewayHostsTree(c.server, c.vs))
			if s == nil {
				t.Fatalf("compile: %v", findings)
			}
			if got := gatewayVirtualHosts(t, s); !slices.Equal(got, c.want) {
				t.Errorf("virtual hosts %q, want %q", got, c.want)
			}
		})
	}
}
