// Package analysis owns the cross-resource checks of a policy tree: the mistakes no single
// document shows (a destination no ServiceEntry declares, a subset no DestinationRule defines,
// two VirtualServices claiming one host, a rule that can never match, ...). Each finding carries
// a stable code (SB0001...), a severity and the position of the offending field; Rules lists
// them and docs/analysis.md explains each.
//
// Run is linear in the size of the tree: every check looks things up in indexes built once
// (hosts, subsets, gateways, workload labels), never compares documents pairwise. Only the
// rules of one VirtualService are compared with each other, for shadowing.
package analysis
