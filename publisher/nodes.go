package publisher

import (
	"maps"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler"
)

// forgetAfter is how long a disconnected node stays in /status.
const forgetAfter = 10 * time.Minute

// node is what the publisher knows of one proxy (one node id), from its streams.
type node struct {
	labels map[string]string
	// userAgent is node.user_agent_name: proxyless gRPC clients name gRPC there.
	userAgent string
	// locality is node.locality as "region/zone/subzone": where the proxy runs, which
	// decides the priorities and weights of the endpoints it is served.
	locality string
	// namespace is the node's NAMESPACE metadata, which routes with a sourceNamespace test.
	namespace string
	role      string
	// streams open for this node id; connected while > 0.
	streams        int
	disconnectedAt time.Time
	// acked is the version_info per type URL the proxy last reported having applied.
	acked map[string]string
	// applied is the last tree version the proxy had fully applied (every type ACKed).
	applied string
	// nacks per type URL, until that type is ACKed again.
	nacks map[string]nack
}

type nack struct {
	version string // per-type version rejected
	message string
	at      time.Time
}

// stream is one xDS stream: the node on it and the last response sent per type URL.
type stream struct {
	node string
	sent map[string]sent
}

type sent struct {
	nonce, version string
}

// labelsOf reads node.metadata.labels, a Struct of strings, or, without it, Istio's LABELS (as
// the bootstraps istio-agent writes for Envoy and proxyless gRPC carry them); values of other
// kinds are ignored.
func labelsOf(n *core.Node) map[string]string {
	labels := map[string]string{}
	fields := n.GetMetadata().GetFields()
	v, ok := fields["labels"]
	if !ok {
		v = fields["LABELS"]
	}
	for k, v := range v.GetStructValue().GetFields() {
		if s, ok := v.GetKind().(*structpb.Value_StringValue); ok {
			labels[k] = s.StringValue
		}
	}
	return labels
}

// namespaceOf is the namespace a node says it runs in: Node.metadata "NAMESPACE", as Istio's
// proxies and proxyless gRPC bootstraps send it.
func namespaceOf(n *core.Node) string {
	return n.GetMetadata().GetFields()["NAMESPACE"].GetStringValue()
}

// localityOf is node.locality as "region/zone/subzone", without trailing empty parts.
func localityOf(n *core.Node) string {
	l := n.GetLocality()
	return strings.TrimRight(l.GetRegion()+"/"+l.GetZone()+"/"+l.GetSubZone(), "/")
}

// versionOfLocked is the tree version a node has fully applied: the newest published snapshot whose
// role (for the node's labels) matches every per-type version the node has ACKed. A type the
// role has resources of must be ACKed; a type it has none of counts only if the node asked for
// it, since a proxy is not expected to subscribe to a type nothing references.
func (p *Publisher) versionOfLocked(n *node) string {
	if len(n.acked) == 0 {
		return ""
	}
	// The common answer, checked without walking the history: every ACK passes through here.
	if p.current != nil && applied(roleOf(p.current, n), n.acked) {
		return p.current.Version
	}
	return p.hist.match(n, func(r *compiler.Role) bool { return applied(r, n.acked) })
}

func applied(r *compiler.Role, acked map[string]string) bool {
	matched := false
	for _, t := range compiler.ResourceTypes {
		v, asked := acked[t]
		if !asked {
			if len(r.Resources[t]) > 0 {
				return false
			}
			continue
		}
		if v != r.Versions[t] {
			return false
		}
		matched = true
	}
	return matched
}

// forgetDisconnected drops nodes gone for longer than forgetAfter.
func (p *Publisher) forgetDisconnected(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range p.nodes {
		if n.streams == 0 && now.Sub(n.disconnectedAt) > forgetAfter {
			delete(p.nodes, id)
		}
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}
