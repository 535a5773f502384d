package publisher

import (
	"slices"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// sotwFullState are the types whose every state-of-the-world response must carry every
// resource the client asked for: the xDS protocol reads a Listener or Cluster missing from a
// response as deleted, and Envoy reads its scopes (SRDS) the same way. Of the other types
// (routes, endpoints) a response needs to carry only what changed, wildcard or not: the
// protocol's "Grouping Resources into Responses" has them grouped as in delta xDS, and a
// route or endpoint goes away with the listener or cluster that names it, not by absence.
var sotwFullState = map[string]bool{
	resource.ListenerType:    true,
	resource.ClusterType:     true,
	resource.ScopedRouteType: true,
}

// sotwType is what a state-of-the-world stream knows of one type. Like a delta stream's
// (deltastate.go) it is the prepared type last sent (base), which the client holds as far as it
// asks for it, plus the names it asked for; never a version per resource.
type sotwType struct {
	// wildcard: every resource of the type; legacy: no name asked for yet, which the protocol
	// reads as wildcard until the first name.
	wildcard, legacy bool
	subscribed       nameSet
	base             *preparedType
	// unsent are names of base the client asked for after base was sent: it does not hold them.
	unsent map[string]struct{}
	// rejected: the client NACKed base, so it still runs what it held before, which the
	// stream does not keep. base stays for the NACK hold; the next different version is
	// sent whole (as far as the client asks), not as changes from what it refused.
	rejected bool

	// nonce of the last response of the type; a request answering an older one is stale.
	nonce string
	// version is the version_info of the request waiting (watching) for the next change: the
	// version the client runs, or the one it rejected (the NACK hold, nack.go).
	version  string
	watching bool
}

// update applies the names of a request (the whole list, as SotW requests carry it), with the
// wildcard rules of the xDS protocol that go-control-plane's stream server applied.
func (t *sotwType) update(names []string, current *preparedType) {
	if t.legacy {
		if len(names) == 0 {
			return // still the implicit wildcard
		}
		t.legacy = false
	}
	wildcard := slices.Contains(names, explicitWildcard)
	subscribed := newNameSet(names, current)
	if !t.wildcard && t.base != nil && (subscribed.of == nil || subscribed.of != t.subscribed.of) {
		subscribed.each(func(name string) {
			if _, ok := t.base.byKey[name]; ok && !t.subscribed.has(name) {
				t.markUnsent(name) // asked for anew: base has it, the client was not sent it
			}
		})
	}
	if !wildcard {
		for name := range t.unsent {
			if !subscribed.has(name) {
				delete(t.unsent, name) // asked for anew later, it is marked again
			}
		}
	} else if !t.wildcard && t.base != nil {
		for _, name := range t.base.names {
			if !t.subscribed.has(name) {
				t.markUnsent(name)
			}
		}
	}
	t.subscribed, t.wildcard = subscribed, wildcard
}

func (t *sotwType) markUnsent(name string) {
	if t.unsent == nil {
		t.unsent = map[string]struct{}{}
	}
	t.unsent[name] = struct{}{}
}

// holds reports whether the client holds resource i of pt at its version.
func (t *sotwType) holds(pt *preparedType, i int) bool {
	if t.base == nil {
		return false
	}
	name := pt.names[i]
	if _, ok := t.unsent[name]; ok {
		return false
	}
	j, ok := t.base.byKey[name]
	return ok && t.base.delta[j].Version == pt.delta[i].Version
}

// sotwAnswer is a response to send: every resource of the type (all), the changes every
// stream between the same two types sends (shared), or those listed.
type sotwAnswer struct {
	all       bool
	shared    *typeDiff
	resources []*anypb.Any
}

// answer returns what to send the client from pt, or false when it has it all.
func (t *sotwType) answer(pt *preparedType) (sotwAnswer, bool) {
	versionChanged := t.version != pt.version
	if t.rejected && t.base != nil && t.base.version != pt.version {
		t.base, t.unsent = nil, nil // the hold is over: the client holds nothing we know of
	}
	if t.wildcard {
		// Versions, not pointers: roles with the same resources of a type may share either
		// of two prepared types for it (prepareRole's reuse), both with that version.
		if !versionChanged && t.base != nil && t.base.version == pt.version && len(t.unsent) == 0 {
			return sotwAnswer{}, false
		}
		if sotwFullState[pt.typeURL] || t.base == nil || len(t.unsent) > 0 {
			return sotwAnswer{all: true}, true
		}
		// Routes and endpoints: what changed since base, computed and encoded once for every
		// stream moving between the same two types (a version with none is sent empty).
		return sotwAnswer{shared: pt.diffFrom(t.base)}, true
	}
	var idx []int
	if !sotwFullState[pt.typeURL] && t.base != nil && len(t.unsent) == 0 {
		// The common case: what changed since base, computed once for every stream, as far
		// as the client asks for it.
		d := pt.diffFrom(t.base)
		for _, res := range d.changed {
			if t.subscribed.has(res.Name) {
				idx = append(idx, pt.byKey[res.Name])
			}
		}
		switch {
		case len(idx) == 0 && !versionChanged:
			return sotwAnswer{}, false
		case len(idx) == len(d.changed):
			return sotwAnswer{shared: d}, true
		}
	} else {
		var named []int
		t.subscribed.each(func(name string) {
			i, ok := pt.byKey[name]
			if !ok {
				return
			}
			named = append(named, i)
			if !t.holds(pt, i) {
				idx = append(idx, i)
			}
		})
		if len(idx) == 0 && !versionChanged {
			return sotwAnswer{}, false
		}
		if sotwFullState[pt.typeURL] {
			if len(named) == len(pt.all) {
				return sotwAnswer{all: true}, true
			}
			idx = named
		}
		slices.Sort(idx)
	}
	a := sotwAnswer{resources: make([]*anypb.Any, len(idx))}
	for j, i := range idx {
		a.resources[j] = pt.all[i]
	}
	return a, true
}

// sent records that the client was sent pt: it holds pt as far as it asks for it.
func (t *sotwType) sent(pt *preparedType, nonce string) {
	t.base, t.unsent, t.nonce, t.watching, t.rejected = pt, nil, nonce, false, false
}
