package xds

import (
	"encoding/json"
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// MetadataKey is the filter_metadata namespace where signalbox keeps what the publisher needs
// to localise a cluster's endpoints for each proxy: the cluster's locality policy and, for
// failover by label, each endpoint's labels. Envoy and gRPC clients ignore namespaces they do
// not know, and keeping it in the resources keeps it in every snapshot file.
const MetadataKey = "signalbox"

// localityFields name the entries under MetadataKey.
const (
	localityPolicyField = "locality_lb"
	endpointLabelsField = "labels"
)

// applyLocality records the cluster's locality policy and, as Istio's cluster builder does,
// turns on locality-weighted balancing where the policy weighs localities: distribute, or an
// explicit failover or failoverPriority (default failover only ranks priorities).
func applyLocality(out *cluster.Cluster, l *ir.LocalityLB) error {
	if l == nil {
		return nil
	}
	v, err := toValue(l)
	if err != nil {
		return err
	}
	out.Metadata = &core.Metadata{FilterMetadata: map[string]*structpb.Struct{
		MetadataKey: {Fields: map[string]*structpb.Value{localityPolicyField: v}},
	}}
	if len(l.Distribute) > 0 || len(l.Regions) > 0 || len(l.FailoverPriority) > 0 {
		if out.CommonLbConfig == nil {
			out.CommonLbConfig = &cluster.Cluster_CommonLbConfig{}
		}
		out.CommonLbConfig.LocalityConfigSpecifier = &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{
			LocalityWeightedLbConfig: &cluster.Cluster_CommonLbConfig_LocalityWeightedLbConfig{},
		}
	}
	return nil
}

// LocalityPolicy reads back the locality policy a cluster carries, nil when it has none.
func LocalityPolicy(c *cluster.Cluster) (*ir.LocalityLB, error) {
	v := c.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[localityPolicyField]
	if v == nil {
		return nil, nil
	}
	var l ir.LocalityLB
	if err := fromValue(v, &l); err != nil {
		return nil, fmt.Errorf("cluster %s: %s.%s: %w", c.GetName(), MetadataKey, localityPolicyField, err)
	}
	return &l, nil
}

// endpointMetadata carries an endpoint's labels, when the cluster fails over by label.
func endpointMetadata(labels map[string]string) *core.Metadata {
	if len(labels) == 0 {
		return nil
	}
	fields := make(map[string]*structpb.Value, len(labels))
	for k, v := range labels {
		fields[k] = structpb.NewStringValue(v)
	}
	return &core.Metadata{FilterMetadata: map[string]*structpb.Struct{MetadataKey: {Fields: map[string]*structpb.Value{
		endpointLabelsField: structpb.NewStructValue(&structpb.Struct{Fields: fields}),
	}}}}
}

// EndpointLabels reads back the labels an endpoint carries.
func EndpointLabels(e *endpoint.LbEndpoint) map[string]string {
	fields := e.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[endpointLabelsField].GetStructValue().GetFields()
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = v.GetStringValue()
	}
	return out
}

func toValue(v any) (*structpb.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return structpb.NewValue(generic)
}

func fromValue(v *structpb.Value, out any) error {
	b, err := v.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
