package publisher

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/signalbox/signalbox/compiler"
)

// role builds a role with real Envoy resources: one cluster (and its endpoints) per name, one
// listener and one route configuration whose virtual host is named tag. Per-type versions are
// digests of the deterministic bytes, as the compiler makes them, so a role that differs only
// in tag differs only in its route version.
func role(name string, selector map[string]string, tag string, clusters ...string) *compiler.Role {
	r := &compiler.Role{Name: name, Selector: selector, Resources: map[resource.Type][]types.Resource{}, Versions: map[resource.Type]string{}}
	for _, c := range clusters {
		r.Resources[resource.ClusterType] = append(r.Resources[resource.ClusterType], &clusterv3.Cluster{
			Name:                 c,
			ConnectTimeout:       durationpb.New(time.Second),
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &core.ConfigSource{ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}}}},
		})
		r.Resources[resource.EndpointType] = append(r.Resources[resource.EndpointType], &endpointv3.ClusterLoadAssignment{ClusterName: c})
	}
	r.Resources[resource.ListenerType] = []types.Resource{&listenerv3.Listener{
		Name: "listener-" + name,
		Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
			Address: "127.0.0.1", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 15001}}}},
	}}
	r.Resources[resource.RouteType] = []types.Resource{&routev3.RouteConfiguration{
		Name:         "routes-" + name,
		VirtualHosts: []*routev3.VirtualHost{{Name: tag, Domains: []string{"*"}}},
	}}
	for _, t := range compiler.ResourceTypes {
		h := sha256.New()
		for _, res := range r.Resources[t] {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(res)
			h.Write(b)
		}
		r.Versions[t] = hex.EncodeToString(h.Sum(nil))[:12]
	}
	return r
}

// snapshot seals roles into a snapshot whose version is a digest of their per-type versions.
func snapshot(commit string, roles ...*compiler.Role) *compiler.Snapshot {
	h := sha256.New()
	for _, r := range roles {
		h.Write([]byte(r.Name))
		for _, t := range compiler.ResourceTypes {
			h.Write([]byte(r.Versions[t]))
		}
	}
	return &compiler.Snapshot{Version: hex.EncodeToString(h.Sum(nil))[:12], Commit: commit, Roles: roles}
}
