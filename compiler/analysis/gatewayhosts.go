package analysis

import (
	"fmt"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// hostsOnGateways warns (SB0012) about a VirtualService host that a Gateway it is bound to does
// not list in any server: that gateway never routes it, so requests for it there get 404, as
// Istio's IST0132 warns. Gateways that do not exist are SB0003's.
func (a *analyzer) hostsOnGateways(d *schema.Document, vs *schema.VirtualService, gateways []string) {
	for _, g := range gateways {
		servers, ok := a.idx.gatewayHosts[g]
		if g == meshGateway || !ok {
			continue
		}
		for i, h := range vs.Hosts {
			host := expandHost(h, d.Namespace)
			if !anyServerHost(servers, host, d.Namespace, g) {
				a.report(d, CodeHostNotOnGateway, fmt.Sprintf("spec.hosts[%d]", i),
					"host %q is not among the hosts of gateway %s (%s): that gateway does not route it",
					host, g, strings.Join(servers, ", "))
			}
		}
	}
}

// anyServerHost reports whether some server host of gateway (namespace/name) admits host for
// a VirtualService in vsNamespace: Istio's "namespace/dnsName" form, "." for the gateway's own
// namespace, "*" for any. The hosts need only intersect, as Istio's gateway routes do: a
// wildcard on either side ("*.example.com", "*") covers the names below it.
func anyServerHost(servers []string, host, vsNamespace, gateway string) bool {
	gwNamespace, _, _ := strings.Cut(gateway, "/")
	for _, s := range servers {
		if ns, name := schema.ServerHost(s, gwNamespace); (ns == "*" || ns == vsNamespace) && schema.HostsOverlap(name, host) {
			return true
		}
	}
	return false
}
