package xdsbench

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// The clients read responses at the wire level: a benchmark of the server should not spend
// its two cores decoding every resource on the client side. rawMessage takes a response's bytes
// as they arrived; response reads what a client needs from them.
type rawMessage struct{ data []byte }

type clientCodec struct{ base encoding.CodecV2 }

func newClientCodec() encoding.CodecV2 { return clientCodec{base: encoding.GetCodecV2(proto.Name)} }

func (c clientCodec) Name() string { return proto.Name }

func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*rawMessage); ok {
		m.data = data.Materialize()
		return nil
	}
	return c.base.Unmarshal(data, v)
}

// response is a SotW DiscoveryResponse or a DeltaDiscoveryResponse, as far as a client
// follows it.
type response struct {
	size                      int
	version, typeURL, nonce   string // version: version_info (SotW) or system_version_info (delta)
	resources                 int
	resourceVersions, removed map[string]string // delta: name -> version; removed names
}

// parseSotw reads DiscoveryResponse fields 1 version_info, 2 resources, 4 type_url, 5 nonce.
func parseSotw(b []byte) (response, error) {
	r := response{size: len(b)}
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			r.version = string(v)
		case 2:
			r.resources++
		case 4:
			r.typeURL = string(v)
		case 5:
			r.nonce = string(v)
		}
		return nil
	})
	return r, err
}

// parseDelta reads DeltaDiscoveryResponse fields 1 system_version_info, 2 resources (Resource:
// 1 version, 3 name), 4 type_url, 5 nonce, 6 removed_resources; the names and versions of
// resources only when track is set.
func parseDelta(b []byte, track bool) (response, error) {
	r := response{size: len(b), resourceVersions: map[string]string{}, removed: map[string]string{}}
	err := eachField(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			r.version = string(v)
		case 2:
			r.resources++
			if !track {
				return nil
			}
			var name, version string
			if err := eachField(v, func(n protowire.Number, f []byte) error {
				switch n {
				case 1:
					version = string(f)
				case 3:
					name = string(f)
				}
				return nil
			}); err != nil {
				return err
			}
			r.resourceVersions[name] = version
		case 4:
			r.typeURL = string(v)
		case 5:
			r.nonce = string(v)
		case 6:
			if track {
				r.removed[string(v)] = ""
			}
		}
		return nil
	})
	return r, err
}

// eachField calls f with every length-delimited field of a message; other wire types are skipped.
func eachField(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if err := f(num, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
