// Package e2e holds the end-to-end tests: a real git repository with real commits, the
// publisher and the proxy on loopback, and real HTTP backends, checked the way a user would
// check them (where requests land, which version is served, what /status says).
package e2e
