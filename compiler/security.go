package compiler

import (
	"fmt"
	"maps"
	"slices"

	"github.com/signalbox/signalbox/schema"
)

// checkPeerAuthentications decides what a PeerAuthentication asks of signalbox. It governs the
// mutual TLS a workload's sidecar requires of inbound connections (Istio applies it to no
// gateway). signalbox proxies are gateways and outbound sidecars: none takes a workload's
// inbound traffic, and none presents a mesh identity. A policy that lets plain text in
// (PERMISSIVE, DISABLE, or UNSET inheriting those, Istio's default) therefore asks nothing
// signalbox fails to do, and compiles with a warning saying so; STRICT would not be enforced,
// which would be worse than a refusal, so it is an error at its mode and the tree is not
// published.
func (b *builder) checkPeerAuthentications() {
	for _, d := range b.docs(schema.KindPeerAuthentication) {
		pa := d.Spec.(*schema.PeerAuthentication)
		strict := false
		if pa.MTLS != nil && pa.MTLS.Mode == "STRICT" {
			b.unsupportedf(d, "spec.mtls.mode", "STRICT mutual TLS: signalbox proxies take no workload's inbound traffic and hold no mesh identity, so it would not be enforced")
			strict = true
		}
		for _, port := range slices.Sorted(maps.Keys(pa.PortLevelMTLS)) {
			if pa.PortLevelMTLS[port].Mode == "STRICT" {
				b.unsupportedf(d, fmt.Sprintf("spec.portLevelMtls.%d.mode", port), "STRICT mutual TLS on port %d: it would not be enforced", port)
				strict = true
			}
		}
		if !strict {
			b.warnf(d, "kind", "PeerAuthentication governs workloads' inbound mutual TLS, which signalbox proxies (gateways and outbound sidecars) never take: nothing to enforce, and plain text stays allowed, as this policy permits")
		}
	}
}
