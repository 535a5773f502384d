package publisher

import (
	"sync"
	"unsafe"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/anypb"
)

// sharedCodec is the xDS server's gRPC codec. A state-of-the-world response built from a
// prepared type (sotwResponse's wildcard answer) differs between streams only in its nonce, so
// its bytes are the type's pre-encoded body followed by the nonce field (a protobuf message may
// carry its fields in any order, and this keeps them in field-number order): nothing is
// marshalled or copied per stream. A delta response shared by streams comes pre-encoded the
// same way (encodedResponse). Every other message goes through gRPC's proto codec.
type sharedCodec struct {
	base   encoding.CodecV2
	bodies *bodyRegistry
}

func newSharedCodec(r *bodyRegistry) encoding.CodecV2 {
	return sharedCodec{base: encoding.GetCodecV2(proto.Name), bodies: r}
}

func (c sharedCodec) Name() string { return proto.Name }

func (c sharedCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*encodedResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(r.body), mem.SliceBuffer(appendNonce(nil, r.nonce))}, nil
	}
	if r, ok := v.(*discovery.DiscoveryResponse); ok {
		if body := c.bodies.lookup(r); body != nil {
			return mem.BufferSlice{mem.SliceBuffer(body), mem.SliceBuffer(appendNonce(nil, r.Nonce))}, nil
		}
	}
	return c.base.Marshal(v)
}

// encodedResponse is a response encoded but for its nonce: a delta response every stream
// moving between the same two prepared types sends (deltadiff.go).
type encodedResponse struct {
	body  []byte
	nonce string
}

// appendNonce encodes field 5, the nonce of both DiscoveryResponse and DeltaDiscoveryResponse.
func appendNonce(b []byte, nonce string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, 5, protowire.BytesType), nonce)
}

func (c sharedCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

// bodyRegistry finds the prepared type a response's resources slice belongs to. It holds
// the types of the current publish; a response from an older one is not found and is
// marshalled normally, so a miss costs speed, never correctness.
type bodyRegistry struct {
	mu    sync.RWMutex
	types map[**anypb.Any]*preparedType
}

func newBodyRegistry() *bodyRegistry {
	return &bodyRegistry{types: map[**anypb.Any]*preparedType{}}
}

// set replaces the registered types with those of roles.
func (b *bodyRegistry) set(roles ...map[string]*preparedRole) {
	m := map[**anypb.Any]*preparedType{}
	for _, rs := range roles {
		for _, r := range rs {
			for _, pt := range r.types {
				if len(pt.all) > 0 {
					m[unsafe.SliceData(pt.all)] = pt
				}
			}
		}
	}
	b.mu.Lock()
	b.types = m
	b.mu.Unlock()
}

// add registers more types (a rejected role's fallback).
func (b *bodyRegistry) add(r *preparedRole) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pt := range r.types {
		if len(pt.all) > 0 {
			b.types[unsafe.SliceData(pt.all)] = pt
		}
	}
}

// lookup returns the pre-encoded body of r without its nonce, or nil when r is not exactly a
// prepared type's full response.
func (b *bodyRegistry) lookup(r *discovery.DiscoveryResponse) []byte {
	if len(r.Resources) == 0 || r.Canary || r.ControlPlane != nil || len(r.ResourceErrors) > 0 ||
		len(r.ProtoReflect().GetUnknown()) > 0 {
		return nil
	}
	b.mu.RLock()
	pt := b.types[unsafe.SliceData(r.Resources)]
	b.mu.RUnlock()
	if pt == nil || len(pt.all) != len(r.Resources) || pt.version != r.VersionInfo || pt.typeURL != r.TypeUrl {
		return nil
	}
	return pt.sotwBody()
}
