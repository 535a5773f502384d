package compiler

import "github.com/signalbox/signalbox/compiler/ir"

// withProxyHeaders applies the mesh's proxyHeaders (signalbox.yaml, Istio's
// meshConfig.defaultConfig.proxyHeaders) to a role's HTTP listeners and their virtual hosts,
// as Istio's GetProxyHeadersFromProxyConfig (pilot/pkg/networking/util) sets the connection
// manager of its sidecars and gateways: server.value names the Server field and
// server.disabled passes the upstream's through, requestId.disabled generates no x-request-id,
// attemptCount.disabled sends no x-envoy-attempt-count, envoyDebugHeaders.disabled is the
// router's suppress_envoy_headers. Proxyless gRPC listeners take none of it, as in Istio.
func (b *builder) withProxyHeaders(r *ir.Role) *ir.Role {
	ph := b.tree.Settings.ProxyHeaders
	if ph == nil || r == nil {
		return r
	}
	for _, l := range r.Listeners {
		if l.API || l.ForwardsConnections() {
			continue
		}
		if v := ph.ServerValue(); v != "" {
			l.ServerName = v
		}
		if ph.ServerOff() {
			l.ServerName = ""
		}
		l.Headers = ir.HeadersOff{Server: ph.ServerOff(), RequestID: ph.RequestIDOff(), EnvoyHeaders: ph.EnvoyDebugHeadersOff()}
		if ph.AttemptCountOff() {
			for _, vh := range l.VirtualHosts {
				vh.NoAttemptCount = true
			}
		}
	}
	return r
}
