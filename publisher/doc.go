// Package publisher owns serving compiled snapshots to proxies: it follows one branch of a
// policy repository with go-git (no git binary), compiles each new tip, publishes only trees
// that compile without errors (the last good snapshot keeps serving otherwise), and serves the
// result over xDS v3 (ADS, state-of-the-world and delta). Each proxy gets the snapshot of the
// role its node selects (labels; proxyless gRPC clients by user agent), with its endpoints
// localised for the node's locality (compiler.Snapshot.Localized: locality failover and
// weights are relative to the proxy, as istiod computes them per proxy).
//
// Serving (prepared.go, sotw.go, delta.go): every publish serializes each role's resources
// once; all streams of all proxies of that role are answered from those shared bytes by the
// publisher's own SotW and delta stream loops, which keep per stream the prepared type last
// sent rather than a version per resource, and share the changes between two prepared types.
// Versions are per type and content digests, so a route-only commit re-sends routes only (the
// changed resources only, to delta clients and to SotW clients naming routes), two replicas on
// the same commit serve identical versions, and a proxy that reconnects holding them is sent
// nothing.
//
// It tracks what every proxy has applied, from the ACKs and NACKs on its streams, and
// reports it on an admin HTTP server (/healthz, /status, /history, /metrics, /hooks/git). The
// FetchStatus, Wait and FetchHistory helpers are the client side, for the CLI.
//
// NACKs (nack.go, rolereject.go): answered as it stands, a state-of-the-world NACK would get
// the same version again at once, so a proxy that rejects a snapshot would loop; the
// publisher holds the NACKed version per stream until a different snapshot is published.
// When every connected proxy of a role rejects the version serving, the role is reported and
// new proxies of it get the version it last applied.
//
// Following (follow.go, sync.go, hook.go): a poll interval plus a GitHub push webhook with an
// optional HMAC secret; the branch tip is the truth (force pushes included); fetch failures
// back off and keep serving; optionally only PGP-signed commits publish.
//
// History (store.go, history.go, rollback.go): with a state directory every published
// snapshot is kept on disk by version with its commit, author and time, a restart serves the
// last one at once, and rollback finds the commits to revert to bring a version back.
//
// Metrics (metrics.go) are Prometheus series named signalbox_*. Package xdsbench measures
// fan-out against go-control-plane's SnapshotCache.
package publisher
