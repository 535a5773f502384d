package xds

import (
	"fmt"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"github.com/signalbox/signalbox/compiler/ir"
)

// VisibleField names the entry under MetadataKey where a cluster keeps which proxies see its
// service (ir.Cluster.Visible: ServiceEntry exportTo, Sidecar egress hosts). The publisher
// serves the cluster, without it, only to those proxies, so no proxy has to interpret it.
const VisibleField = "visible"

// applyVisible records which proxies see a cluster's service; nothing for every proxy.
func applyVisible(out *cluster.Cluster, s *ir.Source) error {
	if s == nil {
		return nil
	}
	v, err := toValue(s)
	if err != nil {
		return err
	}
	setClusterField(out, VisibleField, v)
	return nil
}

// HasVisible reports whether a cluster is seen by some proxies only, without decoding it.
func HasVisible(c *cluster.Cluster) bool {
	return c.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[VisibleField] != nil
}

// ClusterVisible reads back which proxies see a cluster's service, nil for every proxy.
func ClusterVisible(c *cluster.Cluster) (*ir.Source, error) {
	v := c.GetMetadata().GetFilterMetadata()[MetadataKey].GetFields()[VisibleField]
	if v == nil {
		return nil, nil
	}
	var s ir.Source
	if err := fromValue(v, &s); err != nil {
		return nil, fmt.Errorf("cluster %s: %s.%s: %w", c.GetName(), MetadataKey, VisibleField, err)
	}
	return &s, nil
}
