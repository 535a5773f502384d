package xds

import (
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/signalbox/signalbox/compiler/ir"
)

// ForField names the entry under MetadataKey where a variant of a cluster keeps the proxy
// namespaces it is for (ir.Cluster.For: a DestinationRule exported to some namespaces only).
// The publisher serves each proxy its namespace's variant without it.
const ForField = "for"

// applyScope records the namespaces a cluster variant is for; nothing for a cluster for every
// proxy.
func applyScope(out *cluster.Cluster, s *ir.NamespaceScope) error {
	if s == nil {
		return nil
	}
	v, err := toValue(s)
	if err != nil {
		return err
	}
	setClusterField(out, ForField, v)
	return nil
}

// setClusterField sets one entry of a cluster's signalbox metadata, the rest kept.
func setClusterField(out *cluster.Cluster, field string, v *structpb.Value) {
	if out.Metadata == nil {
		out.Metadata = &core.Metadata{}
	}
	if out.Metadata.FilterMetadata == nil {
		out.Metadata.FilterMetadata = map[string]*structpb.Struct{}
	}
	st := out.Metadata.FilterMetadata[MetadataKey]
	if st == nil {
		st = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		out.Metadata.FilterMetadata[MetadataKey] = st
	}
	st.Fields[field] = v
}

// HasScope reports whether a cluster is a variant for some namespaces, without decoding it.
func HasScope(c *cluster.Cluster) bool {
	return c.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[ForField] != nil
}

// ClusterScope reads back the namespaces a cluster variant is for, nil when it is for every
// proxy.
func ClusterScope(c *cluster.Cluster) (*ir.NamespaceScope, error) {
	v := c.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[ForField]
	if v == nil {
		return nil, nil
	}
	var s ir.NamespaceScope
	if err := fromValue(v, &s); err != nil {
		return nil, fmt.Errorf("cluster %s: %s.%s: %w", c.GetName(), MetadataKey, ForField, err)
	}
	return &s, nil
}
