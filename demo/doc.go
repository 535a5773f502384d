// Package demo owns the loopback playground: sample HTTP backends that answer with their
// workload's name and version, a scratch git repository of policies with real commits and
// reverts, and the traffic counter that shows where requests land. `signalbox demo` and the
// end-to-end tests are both built from it.
package demo
