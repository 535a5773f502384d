package schema

import "strings"

// MeshDomain is the cluster domain short service names expand into, as on Kubernetes.
const MeshDomain = "svc.cluster.local"

// MeshGateway is Istio's reserved gateway name for sidecars.
const MeshGateway = "mesh"

// ExpandHost resolves a host the Istio way: a short name ("reviews") is a service of the
// document's namespace ("reviews.default.svc.cluster.local"); a name with a dot or a wildcard
// is taken as written. Analysis and the compiler both resolve hosts with it, so what one
// accepts is what the other routes.
func ExpandHost(host, namespace string) string {
	if host == "*" || strings.Contains(host, ".") {
		return host
	}
	return host + "." + namespace + "." + MeshDomain
}

// BoundGateways normalizes a VirtualService's gateways: "mesh", or "namespace/name" (a bare
// name is in the VirtualService's namespace). No gateways means mesh only.
func BoundGateways(namespace string, gateways []string) []string {
	if len(gateways) == 0 {
		return []string{MeshGateway}
	}
	out := make([]string, len(gateways))
	for i, g := range gateways {
		if g != MeshGateway && !strings.Contains(g, "/") {
			g = namespace + "/" + g
		}
		out[i] = g
	}
	return out
}
