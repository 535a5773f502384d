package compiler

import (
	"fmt"
	"slices"
	"sort"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// builder holds the state of one translation from a tree to the IR. A user's mistake is
// recorded as a positioned finding and the offending object is left out; Compile refuses to
// seal a snapshot when any finding is an error.
type builder struct {
	tree     *schema.Tree
	findings []schema.Finding
	services map[string]*service
	clusters map[string]*ir.Cluster
	// variants holds, by name, every variant of a cluster chosen by proxy namespace (drexport.go).
	variants map[string][]*ir.Cluster
	// clusterEntry is, for each cluster of a host several namespaces declare, the entry it was
	// made from (seexport.go).
	clusterEntry map[*ir.Cluster]*service
	// routeDests are the destinations (and mirrors) each translated route sends to, for the
	// ServiceEntry exportTo check (checkDestinationExports); pendingDests collects them while
	// one rule is translated.
	routeDests   map[*ir.Route][]destRef
	pendingDests []destRef
	// byKind indexes the tree's documents by kind, made on the first docs call: the
	// translation asks for one kind many times (the WorkloadEntries of each ServiceEntry with
	// a workloadSelector, the VirtualServices of each Gateway).
	byKind map[string][]*schema.Document
}

// docs returns the tree's documents of one kind, in the tree's order, as a slice of the
// caller's own (some sort it).
func (b *builder) docs(kind string) []*schema.Document {
	if b.byKind == nil {
		b.byKind = map[string][]*schema.Document{}
		for _, d := range b.tree.Documents {
			b.byKind[d.Kind] = append(b.byKind[d.Kind], d)
		}
	}
	return slices.Clone(b.byKind[kind])
}

func (b *builder) errorf(d *schema.Document, path, format string, args ...any) {
	b.findings = append(b.findings, d.Finding(schema.SeverityError, path, path+": "+fmt.Sprintf(format, args...)))
}

// BuildIR translates a validated tree into the IR, with the findings of the translation.
func BuildIR(tree *schema.Tree) (*ir.Mesh, []schema.Finding) {
	b := &builder{tree: tree}
	b.checkPeerAuthentications()
	b.collectServices()
	for _, d := range b.docs(schema.KindVirtualService) {
		b.checkVirtualService(d)
	}
	b.buildClusters()
	mesh := &ir.Mesh{}
	for _, name := range sortedKeys(b.clusters) {
		mesh.Clusters = append(mesh.Clusters, b.clustersNamed(name)...)
	}
	sidecar := b.sidecarRole(mesh.Clusters)
	if sidecar != nil {
		mesh.Roles = append(mesh.Roles, sidecar)
	}
	gateways := b.gatewayRoles()
	b.authorize(gateways, b.authenticate(gateways))
	mesh.Roles = append(mesh.Roles, gateways...)
	for _, r := range mesh.Roles {
		for _, l := range r.Listeners {
			listenerFilters(l)
		}
	}
	if sidecar != nil {
		mesh.Roles = append(mesh.Roles, b.grpcRole(sidecar))
	}
	return mesh, dedupe(b.findings)
}

// dedupe drops repeated findings (a rule installed on several virtual hosts is reported once)
// and orders them by position.
func dedupe(fs []schema.Finding) []schema.Finding {
	schema.SortFindings(fs)
	return slices.Compact(fs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
