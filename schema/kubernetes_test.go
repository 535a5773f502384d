package schema

import (
	"reflect"
	"testing"
)

// TestKubernetesServiceEntry: a Kubernetes Service loads as the service Istio's registry makes
// of it, in the ServiceEntry form the compiler reads.
func TestKubernetesServiceEntry(t *testing.T) {
	tree := loadClean(t, File{Path: "bookinfo.yaml", Data: []byte(`
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: bookinfo
  labels: {app: reviews, service: reviews}
  annotations: {networking.istio.io/exportTo: ". , istio-system"}
spec:
  selector: {app: reviews}
  ports:
  - {port: 9080, name: http}
  - {port: 9090, name: grpc-stats, targetPort: stats}
  - {port: 8443, name: admin, appProtocol: kubernetes.io/h2c, targetPort: 18443}
  - {port: 9999, name: grpc-web-ui}
  - {port: 3306, name: db}
  - {port: 7000, name: cache, appProtocol: redis}
  - {port: 5353, name: dns, protocol: UDP}
  - {port: 8000, name: web}
---
apiVersion: v1
kind: Service
metadata:
  name: legacy
spec:
  type: ExternalName
  externalName: db.example.com
  ports: [{port: 5432, name: tcp-postgres, targetPort: 15432}]
---
apiVersion: v1
kind: Service
metadata:
  name: manual
spec:
  ports: [{port: 80}]
`)})
	entries := map[string]*ServiceEntry{}
	for _, d := range tree.Documents {
		entries[d.Name] = d.Spec.(*KubernetesService).Entry
	}
	want := &ServiceEntry{
		Hosts:            []string{"reviews.bookinfo.svc.cluster.local"},
		Resolution:       "STATIC",
		WorkloadSelector: &EntrySelector{Labels: map[string]string{"app": "reviews"}},
		ExportTo:         []string{".", "istio-system"},
		Ports: []ServicePort{
			{Number: 9080, Name: "http", Protocol: "HTTP"},
			{Number: 9090, Name: "grpc-stats", Protocol: "GRPC", TargetPortName: "stats"},
			{Number: 8443, Name: "admin", Protocol: "HTTP2", TargetPort: 18443},
			{Number: 9999, Name: "grpc-web-ui", Protocol: "GRPC-WEB"},
			{Number: 3306, Name: "db", Protocol: "TCP"}, // a well-known port: TCP, not sniffed
			{Number: 7000, Name: "cache", Protocol: "REDIS"},
			{Number: 5353, Name: "dns", Protocol: "UDP"},
			{Number: 8000, Name: "web"}, // a name Istio does not know: sniffed, no protocol
		},
	}
	if got := entries["reviews"]; !reflect.DeepEqual(got, want) {
		t.Errorf("reviews:\n got %+v\nwant %+v", got, want)
	}
	want = &ServiceEntry{
		Hosts:      []string{"legacy.default.svc.cluster.local"},
		Resolution: "DNS", Location: "MESH_EXTERNAL",
		Endpoints: []WorkloadEndpoint{{Address: "db.example.com"}},
		// A DNS alias is reached on the Service's own port.
		Ports: []ServicePort{{Number: 5432, Name: "tcp-postgres", Protocol: "TCP"}},
	}
	if got := entries["legacy"]; !reflect.DeepEqual(got, want) {
		t.Errorf("legacy:\n got %+v\nwant %+v", got, want)
	}
	// Without a selector the Service selects nothing, not every WorkloadEntry.
	if got := entries["manual"]; got.WorkloadSelector != nil || got.Endpoints != nil {
		t.Errorf("manual: a Service without selector selects %+v %+v", got.WorkloadSelector, got.Endpoints)
	}
	// An unnamed port is sniffed too.
	if got := entries["manual"].Ports; !reflect.DeepEqual(got, []ServicePort{{Number: 80}}) {
		t.Errorf("manual: ports %+v", got)
	}
}

// TestEntryPath: findings about a Service's service land on the Service's own fields.
func TestEntryPath(t *testing.T) {
	tree := loadClean(t, File{Path: "svc.yaml", Data: []byte(`apiVersion: v1
kind: Service
metadata:
  name: reviews
  annotations:
    networking.istio.io/exportTo: "~"
spec:
  selector: {app: reviews}
  ports:
  - name: http
    port: 9080
`)})
	d := tree.Documents[0]
	for path, want := range map[string]string{
		"spec.hosts[0]":            "svc.yaml:4:9",
		"spec.exportTo":            "svc.yaml:6:35",
		"spec.workloadSelector":    "svc.yaml:8:3",
		"spec.ports[0].number":     "svc.yaml:11:11",
		"spec.ports[0].targetPort": "svc.yaml:10:5",
	} {
		if got := d.PosOf(d.EntryPath(path)).String(); got != want {
			t.Errorf("%s: at %s (%s), want %s", path, got, d.EntryPath(path), want)
		}
	}
	se := &Document{Kind: KindServiceEntry}
	if got := se.EntryPath("spec.hosts[0]"); got != "spec.hosts[0]" {
		t.Errorf("a ServiceEntry's paths are its own, got %s", got)
	}
}
