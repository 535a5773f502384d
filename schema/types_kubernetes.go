package schema

import (
	"encoding/json"
	"strconv"
	"strings"
)

// KubernetesServiceAPIVersion is the apiVersion of a Kubernetes Service (the core group, v1).
// A kind Service of another group (Knative's serving.knative.dev/v1) is not one.
const KubernetesServiceAPIVersion = "v1"

// ExportToAnnotation is the annotation Istio reads a Kubernetes Service's exportTo from:
// namespaces separated by commas, as in a ServiceEntry's exportTo list.
const ExportToAnnotation = "networking.istio.io/exportTo"

// KubernetesDomainSuffix is the domain of Kubernetes Service hosts, Istio's default
// (NAME.NAMESPACE.svc.cluster.local).
const KubernetesDomainSuffix = "cluster.local"

// KubernetesService is the spec of a Kubernetes core/v1 Service: the fields that say where its
// traffic goes. The schema knows the rest of the Kubernetes fields, which change nothing here.
type KubernetesService struct {
	Ports        []KubernetesServicePort `json:"ports,omitempty"`
	Selector     map[string]string       `json:"selector,omitempty"`
	Type         string                  `json:"type,omitempty"`
	ClusterIP    string                  `json:"clusterIP,omitempty"`
	ExternalName string                  `json:"externalName,omitempty"`

	// Entry is the Service as Istio's Kubernetes registry sees it, in the form of the
	// ServiceEntry that declares the same service, so that every later stage treats the two
	// kinds alike; the loader fills it in. Document.EntryPath maps its field paths back to the
	// Service's.
	Entry *ServiceEntry `json:"-"`
}

// KubernetesServicePort is one port of a Kubernetes Service.
type KubernetesServicePort struct {
	Name     string `json:"name,omitempty"`
	Port     uint32 `json:"port"`
	Protocol string `json:"protocol,omitempty"`
	// AppProtocol is nil when unset: Istio tells an empty appProtocol from none.
	AppProtocol *string     `json:"appProtocol,omitempty"`
	TargetPort  IntOrString `json:"targetPort,omitzero"`
}

// IntOrString is Kubernetes' number-or-name field: Name is set for a name, else Number (0 when
// the field is absent).
type IntOrString struct {
	Number uint32
	Name   string
}

func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &v.Name)
	}
	return json.Unmarshal(b, &v.Number)
}

func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.Name != "" {
		return json.Marshal(v.Name)
	}
	return []byte(strconv.FormatUint(uint64(v.Number), 10)), nil
}

// KubernetesServiceHost is the host a Kubernetes Service declares (Istio's ServiceHostname).
func KubernetesServiceHost(name, namespace string) string {
	return name + "." + namespace + ".svc." + KubernetesDomainSuffix
}

// Headless reports a Service with clusterIP None, which Istio does not load balance.
func (s *KubernetesService) Headless() bool { return s.ClusterIP == "None" }

// ExternalNameType reports a Service of type ExternalName, a DNS alias.
func (s *KubernetesService) ExternalNameType() bool { return s.Type == "ExternalName" }

// serviceEntry converts a Service the way Istio's Kubernetes registry does: ConvertService in
// pilot/pkg/serviceregistry/kube/conversion.go for the service, its ports and exportTo;
// externalNameServiceInstances (same file, before Istio made ExternalName an alias) for the
// endpoint of an ExternalName Service, which the compiler uses only where the Service cannot
// be the alias Istio makes of it (its externalName no service of the tree); and, for the endpoints of a Service with a selector,
// the WorkloadEntries of its namespace whose labels the selector matches
// (serviceInstancesFromWorkloadInstances in pilot/pkg/serviceregistry/kube/controller/
// controller.go), which a STATIC ServiceEntry with a workloadSelector selects the same way.
func (s *KubernetesService) serviceEntry(d *Document) *ServiceEntry {
	se := &ServiceEntry{
		Hosts: []string{KubernetesServiceHost(d.Name, d.Namespace)},
		// ClientSideLB: the proxy balances over the endpoints signalbox gives it.
		Resolution: "STATIC",
	}
	external := s.ExternalNameType() && s.ExternalName != ""
	switch {
	case external:
		// DNSLB and MeshExternal, one endpoint per port at the external name on the
		// Service's own port (targetPort does not apply to a DNS alias).
		se.Resolution, se.Location = "DNS", "MESH_EXTERNAL"
		se.Endpoints = []WorkloadEndpoint{{Address: s.ExternalName}}
	case len(s.Selector) > 0:
		// A Service without a selector selects nothing (its endpoints are managed by someone
		// else), as Kubernetes and Istio have it: no workloadSelector, which would take all.
		se.WorkloadSelector = &EntrySelector{Labels: s.Selector}
	}
	for _, p := range s.Ports {
		sp := ServicePort{Number: p.Port, Name: p.Name, Protocol: kubernetesProtocol(p)}
		if !external {
			// findServiceTargetPort: a number above 0 is the endpoints' port; a name is looked
			// up in each WorkloadEntry's ports, and an entry without it is no endpoint of
			// this port; absent (0), Kubernetes makes it the port itself.
			sp.TargetPort, sp.TargetPortName = p.TargetPort.Number, p.TargetPort.Name
		}
		se.Ports = append(se.Ports, sp)
	}
	// ConvertService splits the annotation at commas and trims each namespace.
	if v := d.Annotations[ExportToAnnotation]; v != "" {
		for _, ns := range strings.Split(v, ",") {
			se.ExportTo = append(se.ExportTo, strings.TrimSpace(ns))
		}
	}
	return se
}

// kubernetesProtocol is Istio's ConvertProtocol (pkg/config/kube/conversion.go) in the
// upper-case names a ServiceEntry port's protocol takes: UDP for a UDP port, whatever its name;
// else the appProtocol when set (even empty), or the port name, "grpc-web" as a prefix first,
// then read up to its first '-' and parsed without regard to case as protocol.Parse
// (pkg/config/protocol/instance.go) does ("http-api" is HTTP, "tcp" TCP, "udp" UDP); a name
// Parse does not know (or none) leaves the protocol unset, Istio's protocol sniffing, except on
// the well-known ports of SMTP, DNS, MySQL and MongoDB, which are TCP. Kubernetes' own
// appProtocol names, which ConvertProtocol reads before anything else and only in appProtocol
// (istio/istio#58833 points at them), are exact: kubernetes.io/h2c is HTTP2, kubernetes.io/ws
// HTTP and kubernetes.io/wss HTTPS.
func kubernetesProtocol(p KubernetesServicePort) string {
	if p.Protocol == "UDP" {
		return "UDP"
	}
	name := p.Name
	if p.AppProtocol != nil {
		name = *p.AppProtocol
		switch name {
		case "kubernetes.io/h2c":
			return "HTTP2"
		case "kubernetes.io/ws":
			return "HTTP"
		case "kubernetes.io/wss":
			return "HTTPS"
		}
	}
	if len(name) >= len("grpc-web") && strings.EqualFold(name[:len("grpc-web")], "grpc-web") {
		return "GRPC-WEB"
	}
	if i := strings.IndexByte(name, '-'); i >= 0 {
		name = name[:i]
	}
	switch n := strings.ToUpper(name); n {
	case "TCP", "UDP", "GRPC", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL":
		return n
	}
	switch p.Port {
	case 25, 53, 3306, 27017:
		return "TCP"
	}
	return ""
}

// EntryPath maps a field path of a ServiceEntry to where the same thing is said in this
// document: itself for a ServiceEntry; for a Kubernetes Service converted to one (its Entry),
// its name for the hosts, its exportTo annotation, its selector, its externalName for the
// endpoint, its ports for theirs. The compiler reports about services in ServiceEntry terms
// and places its findings with this.
func (d *Document) EntryPath(path string) string {
	if d.Kind != KindService {
		return path
	}
	field, rest := path, ""
	if i := strings.IndexAny(path[len("spec."):], ".["); strings.HasPrefix(path, "spec.") && i >= 0 {
		field, rest = path[:len("spec.")+i], path[len("spec.")+i:]
	}
	switch field {
	case "spec.hosts":
		return "metadata.name"
	case "spec.exportTo":
		return key("metadata.annotations", ExportToAnnotation)
	case "spec.workloadSelector":
		return "spec.selector"
	case "spec.endpoints", "spec.resolution", "spec.location":
		return "spec.externalName"
	case "spec.ports":
		return "spec.ports" + strings.Replace(rest, ".number", ".port", 1)
	}
	return path
}
