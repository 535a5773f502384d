package publisher

import (
	"sort"
)

// Status is the GET /status document.
type Status struct {
	// Version is the version of the compiled tree serving, "" before the first publish.
	Version string `json:"version"`
	// Commit is the branch tip that version stands for (a later commit that changed nothing
	// the compiler reads keeps the version and moves the commit).
	Commit    string        `json:"commit"`
	LastError *LastError    `json:"last_error"`
	Proxies   []ProxyStatus `json:"proxies"`
}

// ProxyStatus is one proxy (node id) in Status.
type ProxyStatus struct {
	NodeID string            `json:"node_id"`
	Labels map[string]string `json:"labels"`
	// Role is the compiler role the labels select.
	Role string `json:"role"`
	// Locality is the proxy's node.locality ("region/zone/subzone"), which its endpoints'
	// priorities and weights are computed for; "" when it sent none.
	Locality string `json:"locality,omitempty"`
	// Namespace is the node's NAMESPACE metadata, which sourceNamespace conditions test; ""
	// when it sent none.
	Namespace string `json:"namespace,omitempty"`
	// Version is the tree version the proxy has fully applied (ACKed every type of), "" if none.
	Version string `json:"version"`
	// InSync is Version == Status.Version.
	InSync    bool `json:"in_sync"`
	Connected bool `json:"connected"`
	// NackedVersion names what the proxy rejected, until it ACKs that type again: the newest
	// published tree version that holds the rejected resources.
	NackedVersion *string `json:"nacked_version"`
	// Error is the proxy's message for that NACK.
	Error *string `json:"error"`
	// Acked is the version_info the proxy last ACKed, per type URL.
	Acked map[string]string `json:"acked"`
}

// Status reports the serving version and every proxy known, sorted by node id.
func (p *Publisher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Commit: p.commit, Proxies: []ProxyStatus{}}
	if p.current != nil {
		st.Version = p.current.Version
	}
	if e := p.fetchFailed; e != nil {
		st.LastError = &LastError{Commit: e.Commit, Message: e.Message}
	} else if e := p.rejected; e != nil {
		st.LastError = &LastError{Commit: e.Commit, Message: e.Message}
	} else {
		st.LastError = p.roleRejectedErrorLocked()
	}
	for id, n := range p.nodes {
		ps := ProxyStatus{
			NodeID:    id,
			Labels:    cloneMap(n.labels),
			Role:      n.role,
			Locality:  n.locality,
			Namespace: n.namespace,
			Version:   p.versionOfLocked(n),
			Connected: n.streams > 0,
			Acked:     cloneMap(n.acked),
		}
		ps.InSync = ps.Version != "" && ps.Version == st.Version
		if typeURL, nk, ok := latestNACK(n.nacks); ok {
			// Named when asked: the newest tree holding the rejected content, so a proxy that
			// rejected a listener is reported against every later version that still has it.
			msg := nk.message
			ps.Error = &msg
			if tree := p.hist.typeVersionTree(n, typeURL, nk.version); tree != "" {
				ps.NackedVersion = &tree
			}
		}
		st.Proxies = append(st.Proxies, ps)
	}
	sort.Slice(st.Proxies, func(i, j int) bool { return st.Proxies[i].NodeID < st.Proxies[j].NodeID })
	return st
}

func latestNACK(nacks map[string]nack) (string, nack, bool) {
	var (
		typeURL string
		latest  nack
		found   bool
	)
	for t, nk := range nacks {
		if !found || nk.at.After(latest.at) {
			typeURL, latest, found = t, nk, true
		}
	}
	return typeURL, latest, found
}

// History lists every publish, newest first.
func (p *Publisher) History() []HistoryEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hist.newestFirst()
}
