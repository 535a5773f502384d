package publisher

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/signalbox/signalbox/compiler"
)

// preparedRole is one role of a published snapshot with every resource serialized once, for
// all the streams of all the proxies of that role: responses are assembled from these shared
// bytes, never re-marshaled per stream (go-control-plane's SnapshotCache marshals each
// resource again for every response it builds).
type preparedRole struct {
	name  string
	types map[string]*preparedType // type URL -> resources
}

// preparedType is the resources of one type in one role, serialized.
type preparedType struct {
	typeURL string
	version string
	// all is every resource as an Any, sorted by name: the body of a wildcard SotW response.
	all   []*anypb.Any
	byKey map[string]int // resource name -> index in all and delta
	names []string       // parallel to all
	// delta is every resource as a delta Resource, with a per-resource version (a digest of
	// its bytes), so a delta stream is sent only the resources whose bytes changed.
	delta []*discovery.Resource

	// body is the SotW response for all, without a nonce, encoded on first use: what every
	// wildcard SotW stream sends, with its nonce appended by the codec (codec.go).
	bodyOnce sync.Once
	body     []byte

	// id tells prepared types apart without holding on to them: the changes from an older
	// type are cached per its id (deltadiff.go), so a type never keeps its predecessors alive.
	id      uint64
	diffMu  sync.Mutex
	diffs   map[uint64]*typeDiff
	diffAge []uint64 // keys of diffs, oldest first
}

// preparedIDs numbers prepared types from 1; 0 stands for "nothing sent yet".
var preparedIDs atomic.Uint64

// sotwBody returns the encoded wildcard SotW response of the type, without its nonce.
func (pt *preparedType) sotwBody() []byte {
	pt.bodyOnce.Do(func() {
		b, err := marshalOpts.Marshal(&discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all, TypeUrl: pt.typeURL})
		if err == nil {
			pt.body = b
		}
	})
	return pt.body
}

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// prepareRole serializes a role. reuse holds the types of the previous publish by type URL
// and version: a type whose version (a digest of its content) is unchanged is not serialized
// again, so a route-only commit costs the routes only.
func prepareRole(r *compiler.Role, reuse map[string]*preparedType) (*preparedRole, error) {
	pr := &preparedRole{name: r.Name, types: map[string]*preparedType{}}
	for _, t := range compiler.ResourceTypes {
		v := r.Versions[t]
		if pt := reuse[t+"\x00"+v]; pt != nil {
			pr.types[t] = pt
			continue
		}
		pt := &preparedType{typeURL: t, version: v, byKey: map[string]int{}, id: preparedIDs.Add(1)}
		for _, res := range r.Resources[t] {
			b, err := marshalOpts.Marshal(res)
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", r.Name, err)
			}
			name := cache.GetResourceName(res)
			a := &anypb.Any{TypeUrl: t, Value: b}
			sum := sha256.Sum256(b)
			pt.byKey[name] = len(pt.all)
			pt.all = append(pt.all, a)
			pt.names = append(pt.names, name)
			pt.delta = append(pt.delta, &discovery.Resource{Name: name, Version: hex.EncodeToString(sum[:8]), Resource: a})
		}
		pr.types[t] = pt
	}
	return pr, nil
}

// reuseKeys indexes the prepared types of roles for prepareRole.
func reuseKeys(roles map[string]*preparedRole) map[string]*preparedType {
	out := map[string]*preparedType{}
	for _, r := range roles {
		for t, pt := range r.types {
			out[t+"\x00"+pt.version] = pt
		}
	}
	return out
}

// nameSet is the names a client asks for. Most clients ask for every resource of a type they
// name (an Envoy names the endpoints of all its clusters, the routes of all its listeners):
// then the set is that prepared type's own names, shared, not a map per stream. The strings
// of an own map are a prepared type's where it has the name, not copies per stream.
type nameSet struct {
	own map[string]struct{}
	of  *preparedType
}

// newNameSet is the set of names other than the wildcard, current's when they are exactly
// its names; its own map otherwise, of current's strings where it has them.
func newNameSet(names []string, current *preparedType) nameSet {
	if current != nil && len(names) == len(current.names) {
		seen := make([]bool, len(current.names))
		n := 0
		for _, name := range names {
			i, ok := current.byKey[name]
			if !ok || seen[i] {
				break
			}
			seen[i] = true
			n++
		}
		if n == len(current.names) {
			return nameSet{of: current}
		}
	}
	own := make(map[string]struct{}, len(names))
	for _, name := range names {
		if name == explicitWildcard {
			continue
		}
		if current != nil {
			if i, ok := current.byKey[name]; ok {
				name = current.names[i]
			}
		}
		own[name] = struct{}{}
	}
	return nameSet{own: own}
}

func (s nameSet) has(name string) bool {
	if s.of != nil {
		_, ok := s.of.byKey[name]
		return ok
	}
	_, ok := s.own[name]
	return ok
}

func (s nameSet) each(f func(string)) {
	if s.of != nil {
		for _, name := range s.of.names {
			f(name)
		}
		return
	}
	for name := range s.own {
		f(name)
	}
}

// add adds a name, of current's strings if it has it.
func (s *nameSet) add(name string, current *preparedType) {
	if s.has(name) {
		return
	}
	s.materialize()
	if current != nil {
		if i, ok := current.byKey[name]; ok {
			name = current.names[i]
		}
	}
	if s.own == nil {
		s.own = map[string]struct{}{}
	}
	s.own[name] = struct{}{}
}

func (s *nameSet) remove(name string) {
	if !s.has(name) {
		return
	}
	s.materialize()
	delete(s.own, name)
}

// materialize turns a shared set into an own map, to change it.
func (s *nameSet) materialize() {
	if s.of == nil {
		return
	}
	own := make(map[string]struct{}, len(s.of.names))
	for _, name := range s.of.names {
		own[name] = struct{}{}
	}
	*s = nameSet{own: own}
}

// compact shares current's names when the set is exactly them.
func (s *nameSet) compact(current *preparedType) {
	if s.of != nil || current == nil || len(s.own) != len(current.names) {
		return
	}
	for name := range s.own {
		if _, ok := current.byKey[name]; !ok {
			return
		}
	}
	*s = nameSet{of: current}
}
