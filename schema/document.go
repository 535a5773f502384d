package schema

// Kinds signalbox knows, by their Istio kind name.
const (
	KindVirtualService  = "VirtualService"
	KindDestinationRule = "DestinationRule"
	KindServiceEntry    = "ServiceEntry"
	KindGateway         = "Gateway"
	KindWorkloadEntry   = "WorkloadEntry"
	KindSidecar         = "Sidecar"
	// KindService is a Kubernetes Service (apiVersion v1), which declares a service as Istio's
	// Kubernetes registry reads it; its Spec is *KubernetesService.
	KindService = "Service"

	KindPeerAuthentication    = "PeerAuthentication"
	KindAuthorizationPolicy   = "AuthorizationPolicy"
	KindRequestAuthentication = "RequestAuthentication"
)

// Document is one validated policy document. Documents are cached and shared between the trees
// that hold them (LoadWithOptions): read them, never modify them or their Spec.
type Document struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string // metadata.namespace, "default" when absent
	Labels     map[string]string
	// Annotations is metadata.annotations; signalbox reads none yet, later stages may.
	Annotations map[string]string
	// Pos is where the document starts (its first key).
	Pos Pos
	// Spec is *VirtualService, *DestinationRule, *ServiceEntry, *Gateway, *WorkloadEntry, *Sidecar,
	// *PeerAuthentication, *AuthorizationPolicy, *RequestAuthentication or *KubernetesService,
	// matching Kind.
	Spec any
	// fields maps a field path ("spec.http[0].route[1].weight") to its position.
	fields map[string]Pos
}

// PosOf returns the position of the field at path, or of its nearest ancestor that has one,
// or the document's own position.
func (d *Document) PosOf(path string) Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := d.fields[p]; ok {
			return pos
		}
	}
	return d.Pos
}

// Finding builds an error finding about the field at path of this document.
func (d *Document) Finding(sev Severity, path, msg string) Finding {
	return Finding{Pos: d.PosOf(path), Severity: sev, Kind: d.Kind, Namespace: d.Namespace,
		Name: d.Name, Path: path, Message: msg}
}

// parentPath drops the last element of a field path: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// File is one file of a policy tree: its path relative to the root (slash-separated) and bytes.
type File struct {
	Path string
	Data []byte
}

// Tree is a validated policy tree: its documents in a stable order (by kind, namespace, name)
// and its settings.
type Tree struct {
	Documents []*Document
	Settings  Settings
}
