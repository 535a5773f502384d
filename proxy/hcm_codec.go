package proxy

import (
	"net/http"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// What Envoy's HTTP/1 codec and connection manager refuse before any route or filter sees a
// request, at their defaults (signalbox, like Istio, sets none of them otherwise):
//
//   - HTTP/1.0, unless http_protocol_options.accept_http_10: 426 Upgrade Required, the
//     connection closed. (Istio turns it on only for proxies that ask, ISTIO_META_HTTP10.)
//     With it, default_host_for_http_10 is the Host of a request that names none.
//   - more than 100 header fields (common_http_protocol_options.max_headers_count) or a head
//     over 60 KiB (max_request_headers_kb): 431. The size is the lean server's and
//     net/http's read limit (maxHeaderBytes); the lean server counts fields as it parses,
//     and refusedByCodec counts those of other requests.

// http10 is http_protocol_options' HTTP/1.0 settings.
type http10 struct {
	accept      bool
	defaultHost string
}

// maxRequestHeaders is Envoy's default max_headers_count.
const maxRequestHeaders = 100

// decodeHTTP10 reads http_protocol_options, of which only the HTTP/1.0 fields are supported.
func decodeHTTP10(p fieldPath, m *hcmv3.HttpConnectionManager) (http10, error) {
	o := m.GetHttpProtocolOptions()
	if o == nil {
		return http10{}, nil
	}
	if err := onlyFields(p.field("http_protocol_options"), o, "accept_http_10", "default_host_for_http_10"); err != nil {
		return http10{}, err
	}
	return http10{accept: o.GetAcceptHttp_10(), defaultHost: o.GetDefaultHostForHttp_10()}, nil
}

// refusedByCodec answers a request Envoy's codec would refuse and reports whether it did;
// a request of HTTP/1.0 that is accepted gets the default host when it names none. The lean
// server counts a request's fields as it parses them; for others (HTTP/2) they are counted
// here.
func refusedByCodec(w http.ResponseWriter, r *http.Request, h http10) bool {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		if !h.accept {
			refuse(w, http.StatusUpgradeRequired)
			return true
		}
		if r.Host == "" {
			r.Host = h.defaultHost
		}
	}
	if _, lean := w.(*h1Writer); !lean && fieldCount(r.Header) > maxRequestHeaders {
		refuse(w, http.StatusRequestHeaderFieldsTooLarge)
		return true
	}
	return false
}

// refuse answers code with no body and closes the connection, as a codec error does.
func refuse(w http.ResponseWriter, code int) {
	if hw, ok := w.(*h1Writer); ok {
		hw.keep = false
	} else {
		w.Header()["Connection"] = connectionClose
	}
	w.WriteHeader(code)
}

// fieldCount is the number of header fields of a parsed request: its values, and the Host
// the parsers keep out of the map.
func fieldCount(h http.Header) int {
	n := 1
	for _, vv := range h {
		n += len(vv)
	}
	return n
}

// headerSize is what Envoy counts against max_request_headers_kb: the header fields' names
// and values, Host included.
func headerSize(r *http.Request) int {
	n := len("Host") + len(r.Host)
	for k, vv := range r.Header {
		for _, v := range vv {
			n += len(k) + len(v)
		}
	}
	return n
}

var connectionClose = []string{"close"}
