package compiler

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/schema"
)

// compileFindings compiles one file and returns its findings as text, one a line.
func compileFindings(t *testing.T, src string) (*Snapshot, string) {
	t.Helper()
	tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(src)}})
	if schema.HasErrors(findings) {
		t.Fatalf("load: %v", findings)
	}
	snap, findings := Compile(tree)
	schema.SortFindings(findings)
	var lines []string
	for _, f := range findings {
		lines = append(lines, f.String())
	}
	return snap, strings.Join(lines, "\n")
}

const reviewsKubeService = `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{port: 9080, name: http}]
`

// TestKubernetesServiceWithoutEndpoints: a Service that selects no WorkloadEntry compiles,
// with a warning at its selector, so that a repository of Services validates before its
// WorkloadEntries exist; likewise one without a selector, and a named target port no selected
// WorkloadEntry has.
func TestKubernetesServiceWithoutEndpoints(t *testing.T) {
	snap, got := compileFindings(t, reviewsKubeService+`---
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings}
spec:
  selector: {app: ratings}
  ports: [{port: 9080, name: http, targetPort: web}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-v1}
spec: {address: 10.0.0.1, labels: {app: ratings}, ports: {http: 9080}}
`)
	want := strings.Join([]string{
		`mesh.yaml:5:3: warning: Service default/reviews: spec.selector: no WorkloadEntry in namespace default has the labels app=reviews: signalbox reads no Pods, so it knows none of this Service's endpoints, and requests to reviews.default.svc.cluster.local get 503 until WorkloadEntries with those labels are added`,
		`mesh.yaml:11:1: warning: Service default/manual: spec: the Service has no selector, so its endpoints are whatever Kubernetes is told by hand (EndpointSlices), which signalbox does not read: it knows none, and requests to manual.default.svc.cluster.local get 503; give it a selector its WorkloadEntries match`,
		`mesh.yaml:19:48: warning: Service default/ratings: spec.ports[0].targetPort: none of the 1 WorkloadEntries the Service selects names a port "web" in its ports, so port 9080 of ratings.default.svc.cluster.local has no endpoint and its requests get 503 (Istio leaves out an endpoint without the named port)`,
	}, "\n")
	if snap == nil || got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
}

// TestKubernetesServiceRefused: what signalbox cannot honour is an error at the field (a
// headless Service); a ServiceEntry for the host a Service declares is a warning.
func TestKubernetesServiceRefused(t *testing.T) {
	snap, got := compileFindings(t, reviewsKubeService+`---
apiVersion: v1
kind: Service
metadata: {name: mysql}
spec:
  clusterIP: None
  selector: {app: mysql}
  ports: [{port: 3306, name: tcp}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
`)
	for _, want := range []string{
		`mesh.yaml:12:14: error: Service default/mysql: spec.clusterIP: not supported yet (clusterIP None, a headless Service:`,
		`mesh.yaml:20:11: warning: ServiceEntry default/reviews: spec.hosts[0]: host "reviews.default.svc.cluster.local" is also declared by Kubernetes Service default/reviews at mesh.yaml:1:1: Istio takes the Kubernetes Service for a host (initServiceRegistry, appendSidecarServices), so for this host its ports, resolution, location and exportTo are left out, while its endpoints on ports "http", named as the Service's, join the Service's endpoints`,
	} {
		if snap != nil || !strings.Contains(got, want) {
			t.Errorf("findings:\n%s\nwant among them:\n%s", got, want)
		}
	}
}

// TestKubernetesServiceExportTo: the networking.istio.io/exportTo annotation is the Service's
// exportTo, and findings about it point at the annotation.
func TestKubernetesServiceExportTo(t *testing.T) {
	_, got := compileFindings(t, `apiVersion: v1
kind: Service
metadata:
  name: reviews
  annotations: {networking.istio.io/exportTo: "~"}
spec:
  ports: [{port: 9080, name: http}]
  selector: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1}
spec: {address: 10.0.0.1, labels: {app: reviews}}
`)
	want := `mesh.yaml:5:47: warning: Service default/reviews: metadata.annotations.networking.istio.io/exportTo: exported to no namespace ("~"): no proxy sees the service, so no sidecar routes its hosts and a route to it is an error`
	if got != want {
		t.Errorf("findings:\n%s\nwant:\n%s", got, want)
	}
}

// TestKubernetesServiceBesideServiceEntry: a ServiceEntry for a Kubernetes Service's host is
// left out for it with a warning naming what, as Istio takes the Service; one that namespaces
// the Service is not exported to see is refused, since Istio's proxies there take the entry.
func TestKubernetesServiceBesideServiceEntry(t *testing.T) {
	_, got := compileFindings(t, `apiVersion: v1
kind: Service
metadata:
  name: reviews
  annotations: {networking.istio.io/exportTo: "."}
spec:
  ports: [{port: 9080, name: http}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wide}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: narrow}
spec:
  hosts: [reviews.default.svc.cluster.local]
  exportTo: ["."]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: DNS
`)
	for _, want := range []string{
		`mesh.yaml:13:11: error: ServiceEntry default/wide: spec.hosts[0]: not supported yet (host "reviews.default.svc.cluster.local" is also declared by Kubernetes Service default/reviews at mesh.yaml:1:1, which fewer namespaces see:`,
		`mesh.yaml:21:11: warning: ServiceEntry default/narrow: spec.hosts[0]: host "reviews.default.svc.cluster.local" is also declared by Kubernetes Service default/reviews at mesh.yaml:1:1: Istio takes the Kubernetes Service for a host (initServiceRegistry, appendSidecarServices), so for this host its ports, resolution, location and exportTo, and its endpoints, are left out`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings:\n%s\nwant among them:\n%s", got, want)
		}
	}
}

// TestExternalNameAliasFindings: an ExternalName Service whose target the tree does not declare
// keeps its DNS cluster with a warning; a loop of them routes nothing; a VirtualService for an
// alias host is an error, as Istio no longer applies it.
func TestExternalNameAliasFindings(t *testing.T) {
	snap, got := compileFindings(t, reviewsKubeService+`---
apiVersion: v1
kind: Service
metadata: {name: alias}
spec: {type: ExternalName, externalName: reviews.default.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: stripe}
spec: {type: ExternalName, externalName: api.stripe.com, ports: [{port: 443, name: tls}]}
---
apiVersion: v1
kind: Service
metadata: {name: ping}
spec: {type: ExternalName, externalName: pong.default.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: pong}
spec: {type: ExternalName, externalName: ping.default.svc.cluster.local}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias}
spec:
  hosts: [alias]
  http: [{route: [{destination: {host: reviews}}]}]
`)
	for _, want := range []string{
		`warning: Service default/stripe: spec.externalName: "api.stripe.com" is no service the policy tree declares: Istio makes this Service an alias of a host it does not know`,
		`warning: Service default/ping: spec.externalName: the ExternalName Services from ping.default.svc.cluster.local lead back to it`,
		`error: VirtualService default/alias: spec.hosts[0]: host "alias.default.svc.cluster.local" is an ExternalName Service, an alias of "reviews.default.svc.cluster.local"`,
	} {
		if snap != nil || !strings.Contains(got, want) {
			t.Errorf("findings:\n%s\nwant among them:\n%s", got, want)
		}
	}
}
