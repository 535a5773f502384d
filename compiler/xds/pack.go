package xds

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// validator is what every generated Envoy message implements.
type validator interface {
	proto.Message
	ValidateAll() error
}

// pack validates m, then packs it into an Any with a deterministic marshal, so the same
// value always yields the same bytes (and so the same version).
func pack(m validator) (*anypb.Any, error) {
	if err := m.ValidateAll(); err != nil {
		return nil, fmt.Errorf("%T: %w", m, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}

// validated returns m if it validates, so constructors end with one call.
func validated[T validator](m T) (T, error) {
	if err := m.ValidateAll(); err != nil {
		var zero T
		return zero, fmt.Errorf("%T: %w", m, err)
	}
	return m, nil
}
