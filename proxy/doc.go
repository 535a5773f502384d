// Package proxy is signalbox's data-plane proxy: an xDS v3 client that follows a publisher over
// one ADS stream and routes real HTTP traffic with what it was sent.
//
// It owns three things, each in its own files:
//
//   - the xDS client (ads.go, backoff.go): one state-of-the-world ADS stream, wildcard CDS and
//     LDS, EDS and RDS for the names those reference, ACK what was applied, NACK what cannot be
//     honoured (and then apply none of that response), reconnect with jittered backoff while the
//     last good configuration keeps serving;
//   - the configuration model (*_config.go, match.go, domains.go, table.go): each xDS resource is
//     validated against the exact subset of Envoy's API this proxy honours and compiled into
//     immutable values; a field outside that subset is an error naming the field, never ignored;
//   - applying it (apply.go): a response is applied whole or not at all, listener sockets are
//     bound before anything changes, and route tables are relinked make-before-break, so an
//     update fails no request whatever order the server sends the types in;
//   - the data plane (listeners.go, forward.go, balancer.go, transport.go): bound listeners that
//     serve HTTP/1.1 and h2c, route on an immutable table swapped atomically on every update,
//     and forward over one shared pool of upstream keep-alive connections.
//
// AdminHandler (admin.go) serves /healthz, /ready and /config for operators and tests.
//
// The proxy reads only xDS: it does not import the compiler or the schema packages, so any
// xDS v3 server that emits the same shape can drive it.
package proxy
