package proxy

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldPath names a field inside one resource, in proto field names ("routes[2].match.prefix"),
// so a NACK tells the operator exactly which field the proxy could not honour.
type fieldPath string

func (p fieldPath) field(name string) fieldPath {
	if p == "" {
		return fieldPath(name)
	}
	return p + "." + fieldPath(name)
}

func (p fieldPath) index(i int) fieldPath {
	return p + fieldPath("["+strconv.Itoa(i)+"]")
}

func (p fieldPath) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", p, msg)
}

// onlyFields rejects every populated field of m that is not in allowed. Unset proto3 scalars
// are not populated, so a field at its default never trips it. This is how the proxy refuses
// what it cannot honour instead of silently dropping it.
func onlyFields(p fieldPath, m proto.Message, allowed ...string) error {
	var bad []string
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !slices.Contains(allowed, string(fd.Name())) {
			bad = append(bad, string(fd.Name()))
		}
		return true
	})
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return p.field(bad[0]).errorf("field not supported")
	default:
		slices.Sort(bad)
		return p.errorf("fields not supported: %s", strings.Join(bad, ", "))
	}
}

// validateAll runs the protoc-gen-validate rules Envoy itself applies. They do not descend
// into Any, so every unpacked typed_config is validated again on its own.
func validateAll(p fieldPath, m interface{ ValidateAll() error }) error {
	if err := m.ValidateAll(); err != nil {
		return p.errorf("%v", err)
	}
	return nil
}

// socketAddress turns an Address into "host:port". Listeners and STATIC/EDS endpoints need an
// IP literal, as in Envoy; LOGICAL_DNS endpoints may name a host, resolved at connect time.
func socketAddress(p fieldPath, a *core.Address, allowHostname bool) (string, error) {
	if a == nil {
		return "", p.errorf("required")
	}
	if err := onlyFields(p, a, "socket_address"); err != nil {
		return "", err
	}
	sa := a.GetSocketAddress()
	if sa == nil {
		return "", p.field("socket_address").errorf("required")
	}
	p = p.field("socket_address")
	if err := onlyFields(p, sa, "address", "port_value", "protocol", "ipv4_compat"); err != nil {
		return "", err
	}
	if sa.GetProtocol() != core.SocketAddress_TCP {
		return "", p.field("protocol").errorf("only TCP is supported")
	}
	if sa.GetAddress() == "" {
		return "", p.field("address").errorf("required")
	}
	if !allowHostname && net.ParseIP(sa.GetAddress()) == nil {
		return "", p.field("address").errorf("%q is not an IP address", sa.GetAddress())
	}
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10)), nil
}
