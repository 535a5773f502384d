package proxy

import (
	"fmt"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// deterministic is the encoding used to tell whether a resource changed.
var deterministic = proto.MarshalOptions{Deterministic: true}

// resourceWrapperURL is the envelope servers use to attach a TTL or per-resource metadata.
var resourceWrapperURL = typeURLOf(&discoveryv3.Resource{})

// kindOf names a type URL in messages an operator reads.
func kindOf(typeURL string) string {
	switch typeURL {
	case resourcev3.ListenerType:
		return "listener"
	case resourcev3.RouteType:
		return "route configuration"
	case resourcev3.ScopedRouteType:
		return "scoped route configuration"
	case resourcev3.ClusterType:
		return "cluster"
	case resourcev3.EndpointType:
		return "cluster load assignment"
	}
	return typeURL
}

// decodeResources validates every resource of one response and returns them by name. Any
// error refuses the whole response: a response is applied entirely or not at all.
func decodeResources[M proto.Message, C any](typeURL string, res []*anypb.Any, newMsg func() M, name func(M) string, decode func(M) (C, error)) (map[string]C, error) {
	out := make(map[string]C, len(res))
	for i, a := range res {
		if a.GetTypeUrl() == resourceWrapperURL {
			var w discoveryv3.Resource
			if err := a.UnmarshalTo(&w); err != nil {
				return nil, fmt.Errorf("resources[%d]: %v", i, err)
			}
			a = w.GetResource()
		}
		if a.GetTypeUrl() != typeURL {
			return nil, fmt.Errorf("resources[%d]: type %q in a response for %s", i, a.GetTypeUrl(), typeURL)
		}
		m := newMsg()
		if err := a.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("resources[%d]: %v", i, err)
		}
		n := name(m)
		if n == "" {
			return nil, fmt.Errorf("resources[%d]: %s without a name", i, kindOf(typeURL))
		}
		if _, dup := out[n]; dup {
			return nil, fmt.Errorf("%s %q: sent twice in one response", kindOf(typeURL), n)
		}
		c, err := decode(m)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", kindOf(typeURL), n, err)
		}
		out[n] = c
	}
	return out, nil
}
