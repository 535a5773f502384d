package publisher

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// sharedCodec is the xDS server's gRPC codec. Most responses are the same for every stream
// but for their nonce: a type's whole state (preparedType.sotwBody) or the changes between two
// prepared types (typeDiff). The streams send those as an encodedResponse, whose bytes are the
// shared body followed by the nonce field (a protobuf message may carry its fields in any
// order): nothing is marshalled or copied per stream. Every other message goes through gRPC's
// proto codec.
type sharedCodec struct {
	base encoding.CodecV2
}

func newSharedCodec() encoding.CodecV2 {
	return sharedCodec{base: encoding.GetCodecV2(proto.Name)}
}

func (c sharedCodec) Name() string { return proto.Name }

func (c sharedCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*encodedResponse); ok {
		return mem.BufferSlice{mem.SliceBuffer(r.body), mem.SliceBuffer(appendNonce(nil, r.nonce))}, nil
	}
	return c.base.Marshal(v)
}

func (c sharedCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

// encodedResponse is a DiscoveryResponse or DeltaDiscoveryResponse encoded but for its nonce.
type encodedResponse struct {
	body  []byte
	nonce string
}

// appendNonce encodes field 5, the nonce of both DiscoveryResponse and DeltaDiscoveryResponse.
func appendNonce(b []byte, nonce string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, 5, protowire.BytesType), nonce)
}
