package xds

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// clusterWeights are the messages whose "name" is a cluster's: a weighted destination of a
// route and of a TCP proxy.
var clusterWeights = map[protoreflect.FullName]bool{
	"envoy.config.route.v3.WeightedCluster.ClusterWeight":                                  true,
	"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight": true,
}

// ClusterRefs calls fn with every cluster name m names: a field "cluster" (a route's
// destination or mirror, a TCP proxy's, an HTTP URI's such as a remote JWKS), "cluster_name"
// or "cluster_names" (a gRPC service, a config source), and a weighted destination's name,
// looking into the typed configs of filters. The publisher serves a proxy every cluster its
// routes and listeners name, whatever it sees, so that no route or listener it is served
// names a cluster it lacks; reading the names from the protos themselves keeps that true for
// what the compiler emits next.
func ClusterRefs(m proto.Message, fn func(name string)) {
	walkRefs(m.ProtoReflect(), fn)
}

func walkRefs(m protoreflect.Message, fn func(string)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err == nil {
			walkRefs(inner.ProtoReflect(), fn)
		}
		return
	}
	weight := clusterWeights[m.Descriptor().FullName()]
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			name := fd.Name()
			switch {
			case fd.IsList() && name == "cluster_names":
				for i := range v.List().Len() {
					fn(v.List().Get(i).String())
				}
			case fd.IsList() || fd.IsMap():
			case name == "cluster" || name == "cluster_name" || weight && name == "name":
				fn(v.String())
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			switch {
			case fd.IsMap():
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						walkRefs(mv.Message(), fn)
						return true
					})
				}
			case fd.IsList():
				for i := range v.List().Len() {
					walkRefs(v.List().Get(i).Message(), fn)
				}
			default:
				walkRefs(v.Message(), fn)
			}
		}
		return true
	})
}
