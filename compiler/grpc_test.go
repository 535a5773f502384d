package compiler

import (
	"slices"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/schema"
)

// grpcDNSMesh has a service per shape of DNS endpoints: one resolving its own host (no
// endpoints), one host name under DNS_ROUND_ROBIN (which allows one endpoint at most),
// addresses only, an address beside a host name, two host names, plus front, whose VirtualService sends to the two-name service, and ips,
// whose VirtualService mirrors to it.
const grpcDNSMesh = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: one}
spec:
  hosts: [one.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ips}
spec:
  hosts: [ips.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: 10.0.0.2}, {address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mixed}
spec:
  hosts: [mixed.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: 10.0.0.3}, {address: b.example.com}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: many}
spec:
  hosts: [many.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: a1.example.com}, {address: a2.example.com}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: rr}
spec:
  hosts: [rr.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: r1.example.com}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: front}
spec:
  hosts: [front.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.9}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front}
spec:
  hosts: [front.example.com]
  http:
  - route: [{destination: {host: many.example.com}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ips}
spec:
  hosts: [ips.example.com]
  http:
  - route: [{destination: {host: ips.example.com}}]
    mirror: {host: many.example.com}
`

// TestGRPCRoleDNSServices: proxyless gRPC clients are served a DNS service as an EDS cluster of
// its address endpoints (Istio's grpcgen and EDS), as a LOGICAL_DNS cluster when its one
// endpoint is a host name, and not at all when it has several host names: then neither its
// listener nor one whose routes send to it is served, a warning at its resolution says so, and
// a mirror to it is left off the gRPC routes. No route served names a cluster not served.
func TestGRPCRoleDNSServices(t *testing.T) {
	s, findings := compileTree(t, grpcDNSMesh)
	if s == nil || schema.HasErrors(findings) {
		t.Fatalf("compile: %v", findings)
	}
	r := s.Role(GRPCRole)

	clusters := map[string]*cluster.Cluster{}
	for _, res := range r.Resources[resource.ClusterType] {
		c := res.(*cluster.Cluster)
		clusters[strings.Split(c.Name, "|")[3]] = c
	}
	eds := map[string]*endpoint.ClusterLoadAssignment{}
	for _, res := range r.Resources[resource.EndpointType] {
		cla := res.(*endpoint.ClusterLoadAssignment)
		eds[strings.Split(cla.ClusterName, "|")[3]] = cla
	}
	addresses := func(cla *endpoint.ClusterLoadAssignment) []string {
		var out []string
		for _, l := range cla.GetEndpoints() {
			for _, ep := range l.GetLbEndpoints() {
				out = append(out, ep.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
		return out
	}

	for host, want := range map[string]string{"one.example.com": "one.example.com", "rr.example.com": "r1.example.com"} {
		if c := clusters[host]; c.GetType() != cluster.Cluster_LOGICAL_DNS || !slices.Equal(addresses(c.GetLoadAssignment()), []string{want}) {
			t.Errorf("%s: %v %v, want LOGICAL_DNS of %s alone", host, c.GetType(), addresses(c.GetLoadAssignment()), want)
		}
	}
	for host, want := range map[string][]string{"ips.example.com": {"10.0.0.1", "10.0.0.2"}, "mixed.example.com": {"10.0.0.3"}} {
		if c := clusters[host]; c.GetType() != cluster.Cluster_EDS || !slices.Equal(addresses(eds[host]), want) {
			t.Errorf("%s: %v with endpoints %v, want EDS with %v", host, c.GetType(), addresses(eds[host]), want)
		}
	}
	if c, ok := clusters["many.example.com"]; ok {
		t.Errorf("many: served as %v; gRPC reads no cluster of several host names", c.GetType())
	}

	var listeners []string
	for _, res := range r.Resources[resource.ListenerType] {
		listeners = append(listeners, res.(*listener.Listener).GetName())
	}
	slices.Sort(listeners)
	if want := []string{"ips.example.com:80", "mixed.example.com:80", "one.example.com:80", "rr.example.com:80"}; !slices.Equal(listeners, want) {
		t.Errorf("grpc listeners %v, want %v", listeners, want)
	}
	for _, res := range r.Resources[resource.RouteType] {
		for _, vh := range res.(*route.RouteConfiguration).GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if name := rt.GetRoute().GetCluster(); clusters[strings.Split(name, "|")[3]] == nil {
					t.Errorf("%s routes to %s, which the grpc role does not serve", vh.GetName(), name)
				}
				if m := rt.GetRoute().GetRequestMirrorPolicies(); len(m) > 0 {
					t.Errorf("%s mirrors to %v, which the grpc role does not serve", vh.GetName(), m)
				}
			}
		}
	}
	// The sidecar keeps the mirror: only the gRPC routes lose it.
	if routes, _ := routesOf(s.Role(SidecarRole), "ips.example.com"); len(routes) == 0 || len(routes[0].GetRoute().GetRequestMirrorPolicies()) != 1 {
		t.Errorf("sidecar route of ips lost its mirror: %v", routes)
	}

	warnings := map[string]schema.Finding{}
	for _, f := range findings {
		if f.Severity == schema.SeverityWarning && strings.Contains(f.Message, "proxyless gRPC") {
			warnings[f.Name] = f
		}
	}
	if len(warnings) != 2 {
		t.Errorf("want warnings at many and mixed, got %v", warnings)
	}
	for name, want := range map[string][]string{
		"many":  {"cannot call many.example.com (port 80)", "nor front.example.com:80"},
		"mixed": {"not its host name endpoints b.example.com"},
	} {
		f, ok := warnings[name]
		if !ok || f.Path != "spec.resolution" || f.Pos.Line == 0 {
			t.Errorf("%s: warning %+v, want one at spec.resolution", name, f)
			continue
		}
		for _, w := range want {
			if !strings.Contains(f.Message, w) {
				t.Errorf("%s: warning %q does not say %q", name, f.Message, w)
			}
		}
	}
}
