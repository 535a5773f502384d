package proxy

import (
	"net/http"
	"net/url"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The headers Envoy's HTTP connection manager and router set on every request and response,
// whatever the routes say (ConnectionManagerUtility::mutateRequestHeaders and
// mutateResponseHeaders, the router's upstream and timeout headers).
//
// No request counts as internal: signalbox never sets internal_address_config, and since
// Envoy 1.36 an unset one trusts no address (the RFC 1918 default is gone). So every listener
// strips the x-envoy-* fields that steer the router, and a listener with use_remote_address (a
// gateway) treats every request as an edge request: it also strips the fields that name the
// downstream, records the client in x-envoy-external-address and replaces the client's
// x-request-id unless preserve_external_request_id is set.

// connManagerHeaders is what a listener's connection manager and router are told about these
// headers. Its zero value is Envoy's default for each field.
type connManagerHeaders struct {
	server serverHeader
	// preserveExternalRequestID keeps an edge request's own x-request-id.
	preserveExternalRequestID bool
	xfcc                      xfccConfig
	// suppressEnvoyHeaders is the router's suppress_envoy_headers: no
	// x-envoy-upstream-service-time on responses, no x-envoy-expected-rq-timeout-ms upstream.
	suppressEnvoyHeaders bool
}

// decodeConnManagerHeaders reads the connection manager's fields on these headers.
func decodeConnManagerHeaders(p fieldPath, m *hcmv3.HttpConnectionManager) (connManagerHeaders, error) {
	var h connManagerHeaders
	if err := checkServerHeaderTransformation(p, m.GetServerHeaderTransformation()); err != nil {
		return h, err
	}
	h.server = newServerHeader(m.GetServerName(), m.GetServerHeaderTransformation())
	h.preserveExternalRequestID = m.GetPreserveExternalRequestId()
	h.xfcc.mode = m.GetForwardClientCertDetails()
	if d := m.GetSetCurrentClientCertDetails(); d != nil {
		dp := p.field("set_current_client_cert_details")
		if err := onlyFields(dp, d, "subject", "cert", "chain", "dns", "uri"); err != nil {
			return h, err
		}
		h.xfcc.subject, h.xfcc.cert, h.xfcc.chain = d.GetSubject().GetValue(), d.GetCert(), d.GetChain()
		h.xfcc.uri, h.xfcc.dnsSans = d.GetUri(), d.GetDns()
	}
	return h, nil
}

// The fields cleanInternalHeaders removes from requests that are not internal (all of them
// here), and those it also removes from edge requests.
var (
	envoyInternalOnly = map[string]bool{
		"X-Envoy-Internal":                         true, // set only on internal requests, which none is
		"X-Envoy-Retriable-Status-Codes":           true,
		"X-Envoy-Retriable-Header-Names":           true,
		"X-Envoy-Retry-On":                         true,
		"X-Envoy-Retry-Grpc-On":                    true,
		"X-Envoy-Max-Retries":                      true,
		"X-Envoy-Upstream-Alt-Stat-Name":           true,
		"X-Envoy-Upstream-Rq-Timeout-Ms":           true,
		"X-Envoy-Upstream-Rq-Per-Try-Timeout-Ms":   true,
		"X-Envoy-Upstream-Rq-Timeout-Alt-Response": true,
		"X-Envoy-Expected-Rq-Timeout-Ms":           true,
		"X-Envoy-Force-Trace":                      true,
		"X-Envoy-Ip-Tags":                          true,
		"X-Envoy-Original-Url":                     true,
		"X-Envoy-Hedge-On-Per-Try-Timeout":         true,
	}
	envoyEdgeOnly = map[string]bool{
		"X-Envoy-Decorator-Operation":        true,
		"X-Envoy-Downstream-Service-Cluster": true,
		"X-Envoy-Downstream-Service-Node":    true,
	}
)

const xfccKey = "X-Forwarded-Client-Cert"

// cleanRequestHeaders removes what a client may not send through this listener: the router's
// x-envoy-* controls (and at the edge the downstream's names), x-forwarded-client-cert unless
// the listener forwards it, and a Referer Envoy would not pass. It reports whether the request
// carried x-forwarded-client-cert and kept it. One pass over the fields the client sent; a
// request with none (most of a load generator's) costs a length check.
func cleanRequestHeaders(h http.Header, edge bool, xfcc hcmv3.HttpConnectionManager_ForwardClientCertDetails) (keptXFCC bool) {
	if len(h) == 0 {
		return false
	}
	for k := range h {
		switch {
		case len(k) > 8 && k[:8] == "X-Envoy-":
			if envoyInternalOnly[k] || edge && envoyEdgeOnly[k] {
				delete(h, k)
			}
		case k == xfccKey:
			if xfcc == hcmv3.HttpConnectionManager_SANITIZE {
				delete(h, k)
			} else {
				keptXFCC = true
			}
		case k == "Referer":
			// Envoy drops a Referer that is repeated or not an absolute URL.
			if vv := h[k]; len(vv) != 1 || !absoluteURL(vv[0]) {
				delete(h, k)
			}
		}
	}
	return keptXFCC
}

// absoluteURL reports whether v is a URL with a scheme and a host, as Envoy's Url::initialize
// requires of a Referer.
func absoluteURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && u.Host != ""
}
