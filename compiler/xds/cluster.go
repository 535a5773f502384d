package xds

import (
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// connectTimeout is Istio's default upstream connect timeout.
const connectTimeout = 10 * time.Second

// Cluster builds an EDS cluster whose endpoints come over ADS, round robin like Istio's default.
func Cluster(c *ir.Cluster) (*cluster.Cluster, error) {
	return validated(&cluster.Cluster{
		Name:                 c.Name,
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource(), ServiceName: c.Name},
		ConnectTimeout:       durationpb.New(connectTimeout),
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
	})
}

// LoadAssignment builds the endpoints of a cluster: one locality with a load-balancing weight
// (gRPC clients drop localities without one).
func LoadAssignment(c *ir.Cluster) (*endpoint.ClusterLoadAssignment, error) {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: c.Name}
	if len(c.Endpoints) > 0 {
		loc := &endpoint.LocalityLbEndpoints{LoadBalancingWeight: wrapperspb.UInt32(1)}
		for _, e := range c.Endpoints {
			lb := &endpoint.LbEndpoint{HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
				Address: socketAddress(e.Address, e.Port),
			}}}
			if e.Weight > 0 {
				lb.LoadBalancingWeight = wrapperspb.UInt32(e.Weight)
			}
			loc.LbEndpoints = append(loc.LbEndpoints, lb)
		}
		cla.Endpoints = []*endpoint.LocalityLbEndpoints{loc}
	}
	return validated(cla)
}
