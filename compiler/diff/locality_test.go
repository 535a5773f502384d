package diff

import (
	"testing"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/compiler/xds"
)

func TestDescribeLocality(t *testing.T) {
	cases := []struct {
		policy *ir.LocalityLB
		want   string
	}{
		{nil, "off"},
		{&ir.LocalityLB{Failover: true}, "failover by nearness"},
		{&ir.LocalityLB{Failover: true, Regions: []ir.LocalityFailover{{From: "us-east", To: "eu-west"}}}, "failover by nearness, us-east → eu-west"},
		{&ir.LocalityLB{Failover: true, FailoverPriority: []string{"topology.istio.io/network", "version=v1"}},
			"failover by labels topology.istio.io/network, version=v1"},
		{&ir.LocalityLB{Distribute: []ir.LocalityDistribute{{From: "us-east/*", To: []ir.LocalityWeight{{Locality: "us-east/*", Weight: 80}, {Locality: "*", Weight: 20}}}}},
			"distribute from us-east/*: us-east/* 80, * 20"},
	}
	for _, c := range cases {
		cl, err := xds.Cluster(&ir.Cluster{Name: "outbound|80||a.mesh", Policy: &ir.Policy{Locality: c.policy}})
		if err != nil {
			t.Fatal(err)
		}
		if got := describeLocality(cl); got != c.want {
			t.Errorf("describeLocality(%+v) = %q, want %q", c.policy, got, c.want)
		}
	}
}
