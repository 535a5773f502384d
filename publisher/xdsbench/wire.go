package xdsbench

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// The clients read responses at the wire level: a benchmark of the server should not spend
// its two cores decoding every resource on the client side. Nor copying it: a response is
// read where gRPC received it, field by field, and what a client does not follow (the bytes of
// each resource) is skipped in place. rawMessage is a response as far as a client follows it.
type rawMessage struct {
	delta bool // a DeltaDiscoveryResponse, not a DiscoveryResponse
	track bool // delta: read each resource's name and version
	resp  response
}

type clientCodec struct{ base encoding.CodecV2 }

func newClientCodec() encoding.CodecV2 { return clientCodec{base: encoding.GetCodecV2(proto.Name)} }

func (c clientCodec) Name() string { return proto.Name }

func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if m, ok := v.(*rawMessage); ok {
		var err error
		m.resp, err = readResponse(data, m.delta, m.track)
		return err
	}
	return c.base.Unmarshal(data, v)
}

// response is a SotW DiscoveryResponse or a DeltaDiscoveryResponse, as far as a client
// follows it.
type response struct {
	size                      int
	version, typeURL, nonce   string // version: version_info (SotW) or system_version_info (delta)
	resources                 int
	resourceVersions, removed map[string]string // delta, when tracked: name -> version; removed names
}

// readResponse reads fields 1 version_info (delta: system_version_info), 2 resources (counted;
// for a tracked delta response, Resource 1 version and 3 name), 4 type_url, 5 nonce and, of a
// delta response, 6 removed_resources.
func readResponse(data mem.BufferSlice, delta, track bool) (response, error) {
	r := response{size: data.Len(), resourceVersions: map[string]string{}, removed: map[string]string{}}
	rd := data.Reader()
	defer rd.Close()
	for rd.Remaining() > 0 {
		tag, err := binary.ReadUvarint(rd)
		if err != nil {
			return r, err
		}
		num, typ := protowire.DecodeTag(tag)
		if typ != protowire.BytesType {
			if err := skipScalar(rd, typ); err != nil {
				return r, err
			}
			continue
		}
		n, err := binary.ReadUvarint(rd)
		if err != nil {
			return r, err
		}
		if int(n) > rd.Remaining() {
			return r, fmt.Errorf("field %d: %d bytes, %d left", num, n, rd.Remaining())
		}
		keep := num == 1 || num == 4 || num == 5 || (delta && num == 6) || (delta && track && num == 2)
		if !keep {
			if num == 2 {
				r.resources++
			}
			if _, err := rd.Discard(int(n)); err != nil {
				return r, err
			}
			continue
		}
		v := make([]byte, n)
		if _, err := rd.Read(v); err != nil && n > 0 {
			return r, err
		}
		switch num {
		case 1:
			r.version = string(v)
		case 2:
			r.resources++
			if err := r.trackResource(v); err != nil {
				return r, err
			}
		case 4:
			r.typeURL = string(v)
		case 5:
			r.nonce = string(v)
		case 6:
			r.removed[string(v)] = ""
		}
	}
	return r, nil
}

// trackResource records a delta Resource's name (field 3) and version (field 1).
func (r *response) trackResource(b []byte) error {
	var name, version string
	err := eachField(b, func(n protowire.Number, f []byte) error {
		switch n {
		case 1:
			version = string(f)
		case 3:
			name = string(f)
		}
		return nil
	})
	r.resourceVersions[name] = version
	return err
}

// skipScalar skips a field's value of a wire type other than bytes.
func skipScalar(rd *mem.Reader, typ protowire.Type) error {
	var err error
	switch typ {
	case protowire.VarintType:
		_, err = binary.ReadUvarint(rd)
	case protowire.Fixed32Type:
		_, err = rd.Discard(4)
	case protowire.Fixed64Type:
		_, err = rd.Discard(8)
	default:
		err = fmt.Errorf("unexpected wire type %d", typ)
	}
	return err
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
