// Package proxy is signalbox's data-plane proxy: an xDS v3 client that follows a publisher over
// one ADS stream and routes real HTTP traffic with what it was sent, with Envoy's semantics for
// every field it accepts.
//
// It owns four things, each in its own files:
//
//   - the xDS client (ads.go, backoff.go): one state-of-the-world ADS stream, wildcard CDS and
//     LDS, EDS and RDS for the names those reference, ACK what was applied, NACK what cannot be
//     honoured (and then apply none of that response), reconnect with jittered backoff while the
//     last good configuration keeps serving; its node names the proxy's locality (locality.go)
//     for a publisher that localises endpoints;
//   - the configuration model: each xDS resource is validated against the exact subset of Envoy's
//     API this proxy honours and compiled into immutable values; a field outside that subset is an
//     error naming the field, never ignored. Listeners (listener_config.go: the HTTP connection
//     manager with the jwt_authn, rbac, cors, fault and router filters; a Listener with an
//     api_listener is for proxyless gRPC clients and is skipped; tcp_config.go for the tcp_proxy
//     network filter in its place, after any network RBAC filters, rbac_network.go), routes (route_config.go,
//     match.go, domains.go, route_action.go for redirects, direct responses, rewrites, hash and
//     mirror policies, retry.go, headers.go for header operations at every level, filters.go for
//     CORS and fault injection, jwt.go, jwt_token.go and jwt_eval.go for Envoy's JWT authentication
//     filter with inline JWKS, jwks_remote.go for remote_jwks fetched through a cluster and
//     cached for cache_duration, rbac.go, rbac_eval.go and rbac_metadata.go for Envoy's RBAC
//     authorization filter), clusters (cluster_config.go, cluster_policy.go for circuit breakers,
//     outlier detection, upstream TLS and TCP keep-alive) and endpoints (endpoint_config.go, with
//     priorities and localities);
//   - applying it (apply.go, table.go): a response is applied whole or not at all, listener
//     sockets are bound before anything changes, and route tables are relinked
//     make-before-break, so an update fails no request whatever order the server sends the
//     types in;
//   - the data plane: listeners (listeners.go) run a lean HTTP/1.x server (h1server.go) and hand
//     h2c connections to net/http; what Envoy's codec refuses is refused first (hcm_codec.go),
//     the path is normalised (path_normalize.go), and the connection manager's own headers
//     (x-forwarded-proto, x-forwarded-for and x-envoy-external-address with
//     use_remote_address, x-request-id, x-forwarded-client-cert, the router's x-envoy-*
//     controls stripped) are set before any filter, its Server and the router's
//     x-envoy-upstream-service-time on every response (forward.go, hcm_headers.go,
//     hcm_xfcc.go, hcm_response.go, request_id.go); the proxy's own answers to gRPC requests
//     are gRPC statuses (grpc_local_reply.go); jwt_authn runs first (a bad token gets 401 and
//     reaches nothing else; the payloads it verifies go to RBAC, whose metadata matchers read
//     them), then RBAC (a denied request gets 403), then forward.go runs CORS, fault, the
//     route action, retries, timeouts and mirrors; balancer.go and hashlb.go pick endpoints
//     (round robin, least request, random, ring hash, Maglev) within a priority level (the
//     first, until ejections make it shed load to the next by Envoy's overprovisioning factor),
//     its localities weighted as locality_weighted_lb_config asks (locality.go), under circuit
//     breakers, outlier ejection and the healthy panic threshold; upstream requests go over a lean HTTP/1.1 pool
//     (h1transport.go; a response nothing changes is relayed with its head as it came,
//     h1relay.go), net/http's h2c pool, or a cluster's own pool when it needs TLS or
//     connection options (transport.go);
//     a WebSocket upgrade, on a connection manager whose upgrade_configs enable it
//     (upgrade_config.go), goes over an upstream connection of its own and, once the upstream
//     answers 101, becomes a byte tunnel with the client's connection (upgrade.go);
//     STRICT_DNS clusters re-resolve in dns.go. A TCP proxy listener (tcp_proxy.go) first
//     judges each connection by its network RBAC filters (rbac_network.go: once, at accept,
//     after any TLS handshake; a denied one is closed before any upstream is dialled), then relays
//     it to an endpoint of its cluster (weighted_clusters at random by weight)
//     under the same balancer, max_connections and outlier detection, with max_connect_attempts,
//     the cluster's connect_timeout and upstream TLS; tcp_relay.go copies bytes both ways with
//     half-close and idle_timeout, tcp_stats.go counts per listener and cluster. A TLS
//     passthrough listener (tcp_chains.go) has the tls_inspector listener filter
//     (tcp_inspect.go, which reads the ClientHello's SNI with sni.go) and one filter chain per
//     set of server names, chosen per connection as Envoy chooses them, each with its own
//     network RBAC and tcp_proxy; the bytes inspected go upstream first, TLS untouched. A
//     chain may instead terminate TLS (https_chains.go, https_serve.go): the inspecting
//     accept loop hands it the connection with the ClientHello replayed
//     (chains_handoff.go), and its requests are served with that chain's certificate,
//     routes and HTTP filters; one listener may mix both kinds (chains_inspected.go), and
//     every HTTPS listener enters through the same loop.
//
// AdminHandler (admin.go) serves /healthz, /ready, /config and /metrics (stats.go) for
// operators and tests.
//
// The proxy reads only xDS: it does not import the compiler or the schema packages, so any
// xDS v3 server that emits the same shape can drive it.
package proxy
