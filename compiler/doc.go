// Package compiler owns the translation of a validated policy tree into what proxies run: it
// builds the IR (package compiler/ir) from the typed policies, turns the IR into Envoy xDS v3
// resources per proxy role (package compiler/xds), and seals them in an immutable Snapshot whose
// version is a digest of its canonical bytes. It knows nothing of git or of serving.
//
// The translation follows Istio's (pilot/pkg/networking/core):
//
//   - routes.go, match.go and actions.go turn VirtualService rules into routes (delegate.go
//     merges delegated rules in).
//   - services.go and policy.go turn ServiceEntries, WorkloadEntries and DestinationRules into
//     clusters. kubeservice.go makes a Kubernetes Service the ServiceEntry Istio's Kubernetes
//     registry converts it to, with its own refusals and warnings. drmerge.go merges the rules
//     of one namespace for a host as Istio merges them and applies rules for wildcard hosts;
//     drexport.go chooses among namespaces' rules by the proxy's; seexport.go chooses, for a
//     host ServiceEntries of several namespaces declare, the one each proxy namespace sees, as
//     Istio's SidecarScope does.
//   - roles.go assembles the sidecar and gateway roles: hosts.go binds VirtualServices to
//     Gateway servers at the intersection of their hosts, sidecar.go applies Sidecar resources,
//     tcp.go turns a gateway's TCP servers and the tcp routes bound to them into TCP proxy
//     listeners (Istio's gateway.go and networkfilter.go), proxyheaders.go applies the mesh's
//     proxyHeaders, and grpc.go makes the role of proxyless gRPC clients.
//   - authn.go turns RequestAuthentications into the jwt_authn filter of the gateway roles they
//     apply to, as Istio's pilot/pkg/security/authn does (authnjwks.go: keys at a jwksUri are
//     fetched by the proxy through the cluster of the ServiceEntry declaring its host and port);
//     authz.go, authzrules.go and authzjwt.go turn AuthorizationPolicies into the RBAC filters
//     after it, as Istio's pilot/pkg/security/authz does (authztcp.go: network RBAC filters on
//     TCP listeners). signalbox proxies receive no workload's inbound traffic, so a policy that
//     reaches no gateway is refused (reach.go).
//
// What signalbox cannot honour is a positioned "not supported yet" finding at the field, never
// dropped silently.
//
// Locality load balancing (locality.go, localize.go) is the one part that depends on the proxy
// asking: the compiler records each cluster's localityLbSetting in the cluster's metadata, and
// Snapshot.Localized gives a role's endpoints the priorities and locality weights they have
// for a proxy in a given place, as istiod computes them per proxy (its loadbalancer package).
// The same Localized serves each place only the clusters and endpoints of the services it sees
// (clusterview.go marks them, clusterscope.go chooses them), as Istio's SidecarScope does.
package compiler
