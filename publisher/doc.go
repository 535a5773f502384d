// Package publisher owns serving compiled snapshots to proxies: it follows one branch of a
// policy repository with go-git (no git binary), compiles each new tip, publishes only trees
// that compile without errors (the last good snapshot keeps serving otherwise), and serves the
// result over xDS v3 (ADS, state-of-the-world and delta) with go-control-plane. Each proxy gets
// the snapshot of the role its node labels select.
//
// It also tracks what every proxy has applied, from the ACKs and NACKs on its streams, and
// reports it on an admin HTTP server (/healthz, /status, /history, /metrics, /hooks/git). The
// FetchStatus and Wait helpers are the client side of /status, for the CLI.
//
// go-control-plane's state-of-the-world server answers a NACK by sending the same version again
// at once, so a proxy that rejects a snapshot would loop; the publisher holds the NACKed version
// per stream until a different snapshot is published (see nack.go).
package publisher
