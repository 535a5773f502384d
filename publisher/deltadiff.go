package publisher

import (
	"slices"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// typeDiff is what a client holding one prepared type lacks of another: the resources whose
// per-resource version differs, and the names that went away. Every stream of a role moves
// between the same two types at a publish, so the changes are computed once, and their
// response (delta, or SotW for subscribers to names) encoded once but for the nonce, which the
// codec appends, however many streams send them.
type typeDiff struct {
	once    sync.Once
	changed []*discovery.Resource
	removed []string

	bodyOnce sync.Once
	body     []byte
	// sotwBody is the state-of-the-world response carrying the changed resources, for the
	// subscribers to names of types a response may carry only changes of (sotw.go).
	sotwOnce sync.Once
	sotwBody []byte
}

// maxDiffs bounds the changes a prepared type keeps: one per older type streams came from.
// At a publish that is one (the type before) plus the empty start of new streams; more only
// while streams lag several publishes behind, which the bound turns into per-stream work.
const maxDiffs = 4

// diffFrom returns the changes from older (nil: nothing held) to pt, shared by every caller.
func (pt *preparedType) diffFrom(older *preparedType) *typeDiff {
	var key uint64
	if older != nil {
		key = older.id
	}
	pt.diffMu.Lock()
	d := pt.diffs[key]
	if d == nil {
		if pt.diffs == nil {
			pt.diffs = map[uint64]*typeDiff{}
		}
		if len(pt.diffAge) == maxDiffs {
			delete(pt.diffs, pt.diffAge[0])
			pt.diffAge = pt.diffAge[1:]
		}
		d = &typeDiff{}
		pt.diffs[key] = d
		pt.diffAge = append(pt.diffAge, key)
	}
	pt.diffMu.Unlock()
	// Computed outside diffMu: the streams after the same pair wait for this one only.
	d.once.Do(func() { d.changed, d.removed = changesBetween(older, pt) })
	return d
}

// changesBetween lists the resources of pt whose version differs from older's and the names
// of older that pt lacks.
func changesBetween(older, pt *preparedType) (changed []*discovery.Resource, removed []string) {
	if older == pt {
		return nil, nil
	}
	for _, res := range pt.delta {
		if older != nil {
			if i, ok := older.byKey[res.Name]; ok && older.delta[i].Version == res.Version {
				continue
			}
		}
		changed = append(changed, res)
	}
	if older != nil {
		for _, name := range older.names {
			if _, ok := pt.byKey[name]; !ok {
				removed = append(removed, name)
			}
		}
	}
	slices.Sort(removed)
	return changed, removed
}

// encoded returns the response carrying d for pt, encoded without its nonce.
func (d *typeDiff) encoded(pt *preparedType) []byte {
	d.bodyOnce.Do(func() {
		b, err := marshalOpts.Marshal(&discovery.DeltaDiscoveryResponse{
			SystemVersionInfo: pt.version,
			Resources:         d.changed,
			RemovedResources:  d.removed,
			TypeUrl:           pt.typeURL,
		})
		if err == nil {
			d.body = b
		}
	})
	return d.body
}

// encodedSotw returns the state-of-the-world response carrying d's changed resources at pt's
// version, encoded without its nonce.
func (d *typeDiff) encodedSotw(pt *preparedType) []byte {
	d.sotwOnce.Do(func() {
		res := make([]*anypb.Any, len(d.changed))
		for i, r := range d.changed {
			res[i] = r.Resource
		}
		b, err := marshalOpts.Marshal(&discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: res, TypeUrl: pt.typeURL})
		if err == nil {
			d.sotwBody = b
		}
	})
	return d.sotwBody
}
