// Package diff owns the traffic view of a change: given two compiled snapshots (of a pull
// request's base and head, or two snapshot files), it says what proxies will do differently,
// per role, virtual host and route: weights before and after, routes and matches added or
// removed, timeouts, retries, endpoints, and any other route, cluster or listener setting.
//
// It compares the xDS resources themselves, not the policies, so it is exact about what proxies
// will see: a policy edit that compiles to the same snapshot is no change at all. Output is
// text, Markdown (for a pull-request comment, with a Mermaid diagram of the changed traffic
// splits) or JSON.
package diff
