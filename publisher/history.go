package publisher

import (
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
)

// HistoryEntry is one publish, as GET /history lists it.
type HistoryEntry struct {
	Version     string    `json:"version"`
	Commit      string    `json:"commit"`
	Author      string    `json:"author,omitempty"`
	CommittedAt time.Time `json:"committed_at,omitzero"`
	PublishedAt time.Time `json:"published_at"`

	fetchedAt time.Time // when the fetch saw the commit; not stored
}

// history keeps every snapshot published, content-addressed by version, and the publish log.
// A revert brings an old version back: it is logged again but stored once. With a state
// directory both live on disk too (store.go), so a restart keeps them.
type history struct {
	byVersion map[string]*compiler.Snapshot
	log       []HistoryEntry // oldest first
}

func newHistory() *history {
	return &history{byVersion: map[string]*compiler.Snapshot{}}
}

func (h *history) add(s *compiler.Snapshot, e HistoryEntry) {
	if _, ok := h.byVersion[s.Version]; !ok {
		h.byVersion[s.Version] = s
	}
	h.log = append(h.log, e)
}

// newestFirst returns a copy of the log, newest first.
func (h *history) newestFirst() []HistoryEntry {
	out := make([]HistoryEntry, len(h.log))
	for i, e := range h.log {
		out[len(h.log)-1-i] = e
	}
	return out
}

// match returns the version of the newest published snapshot for which ok holds of the role
// the node takes in it, or "".
func (h *history) match(n *node, ok func(*compiler.Role) bool) string {
	seen := map[string]bool{}
	for i := len(h.log) - 1; i >= 0; i-- {
		v := h.log[i].Version
		if seen[v] {
			continue
		}
		seen[v] = true
		if ok(roleOf(h.byVersion[v], n)) {
			return v
		}
	}
	return ""
}

// typeVersionTree names the tree version a per-type version belongs to, for the node's role:
// the newest published snapshot whose role has that version of that type.
func (h *history) typeVersionTree(n *node, typeURL, version string) string {
	return h.match(n, func(r *compiler.Role) bool { return r.Versions[typeURL] == version })
}

// roleOf is the role node n takes in s: the one its labels select (proxyless gRPC clients
// take the gRPC role when there is one), with its endpoints localised for the node's place
// and only the routes for its labels and namespace (compiler.Snapshot.Localized). A snapshot without any role (an empty tree) still gets a
// role, with no resources and per-type versions derived from the tree version, so proxies
// receive (and can ACK) the empty configuration.
func roleOf(s *compiler.Snapshot, n *node) *compiler.Role {
	if r := s.RoleForNode(n.labels, n.userAgent); r != nil {
		// Published snapshots had their locality policies read at publish (prepareRoles),
		// so this cannot fail for them.
		if lr, err := s.Localized(r, compiler.Place{Locality: n.locality, Labels: n.labels, Namespace: n.namespace}); err == nil {
			return lr
		}
		return r
	}
	r := &compiler.Role{Name: compiler.SidecarRole, Versions: map[resource.Type]string{}}
	for _, t := range compiler.ResourceTypes {
		r.Versions[t] = "empty-" + s.Version
	}
	return r
}
