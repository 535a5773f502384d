package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/schema"
)

// localityService is one service with an endpoint in each kind of place relative to a proxy in
// region1/zone1/subzone1: its subzone, its zone, its region, and two other regions.
const localityService = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.0.0.1, locality: region1/zone1/subzone1, network: n1}
  - {address: 10.0.0.2, locality: region1/zone1/subzone2, network: n2}
  - {address: 10.0.0.3, locality: region1/zone2/subzone1}
  - {address: 10.0.0.4, locality: region2/zone1/subzone1, network: n1}
  - {address: 10.0.0.5, locality: region3/zone1/subzone1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.mesh
  trafficPolicy:
`

const reviewsCluster = "outbound|80||reviews.mesh"

func compileLocality(t *testing.T, policy string) (*Snapshot, *Role) {
	t.Helper()
	return compileLocalityWith(t, "", policy)
}

// compileLocalityWith is compileLocality with signalbox.yaml holding settings.
func compileLocalityWith(t *testing.T, settings, policy string) (*Snapshot, *Role) {
	t.Helper()
	src := localityService + policy
	tree, findings := schema.Load([]schema.File{{Path: "reviews.yaml", Data: []byte(src)}, {Path: "signalbox.yaml", Data: []byte(settings)}})
	if tree == nil || len(findings) > 0 {
		t.Fatalf("load: %v", findings)
	}
	snap, findings := Compile(tree)
	if snap == nil || schema.HasErrors(findings) {
		t.Fatalf("compile: %v", findings)
	}
	return snap, snap.Role(SidecarRole)
}

func localized(t *testing.T, s *Snapshot, r *Role, locality string, labels map[string]string) *Role {
	t.Helper()
	lr, err := s.Localized(r, Place{Locality: locality, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	return lr
}

// placement renders a role's endpoints of reviews as "address:priority/weight" in address order,
// the locality weight being that of the locality group the endpoint is in.
func placement(t *testing.T, r *Role) string {
	t.Helper()
	for _, res := range r.Resources[resource.EndpointType] {
		cla := res.(*endpoint.ClusterLoadAssignment)
		if cla.GetClusterName() != reviewsCluster {
			continue
		}
		var out []string
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				addr := e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress()
				out = append(out, fmt.Sprintf("%s:%d/%d", strings.TrimPrefix(addr, "10.0.0."), l.GetPriority(), l.GetLoadBalancingWeight().GetValue()))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	t.Fatalf("no endpoints of %s", reviewsCluster)
	return ""
}

func clusterOf(r *Role, name string) *cluster.Cluster {
	for _, res := range r.Resources[resource.ClusterType] {
		if c := res.(*cluster.Cluster); c.GetName() == name {
			return c
		}
	}
	return nil
}

const outlier = `    outlierDetection: {consecutive5xxErrors: 3}
`

func TestLocalizedFailoverByNearness(t *testing.T) {
	s, r := compileLocality(t, outlier)
	if got, want := placement(t, r), "1:0/1 2:0/1 3:0/1 4:0/1 5:0/1"; got != want {
		t.Fatalf("as compiled: %s, want every endpoint at priority 0: %s", got, want)
	}
	lr := localized(t, s, r, "region1/zone1/subzone1", nil)
	// Istio's LbPriority: same subzone 0, same zone 1, same region 2, elsewhere 3.
	if got, want := placement(t, lr), "1:0/1 2:1/1 3:2/1 4:3/1 5:3/1"; got != want {
		t.Errorf("proxy in region1/zone1/subzone1: %s, want %s", got, want)
	}
	if got, want := placement(t, localized(t, s, r, "region2/zone9", nil)), "1:1/1 2:1/1 3:1/1 4:0/1 5:1/1"; got != want {
		t.Errorf("proxy in region2/zone9: %s, want %s", got, want)
	}
	// Default failover ranks priorities only: Istio turns on locality-weighted balancing
	// where weights are given.
	if clusterOf(r, reviewsCluster).GetCommonLbConfig().GetLocalityWeightedLbConfig() != nil {
		t.Errorf("default failover set locality_weighted_lb_config")
	}

	if lr.Name != r.Name || lr.Place != "region1/zone1/subzone1" {
		t.Errorf("localised role is %q at %q", lr.Name, lr.Place)
	}
	for _, typ := range ResourceTypes {
		changed := lr.Versions[typ] != r.Versions[typ]
		if changed != (typ == resource.EndpointType) {
			t.Errorf("%s version %s → %s: only endpoints should change", typ, r.Versions[typ], lr.Versions[typ])
		}
	}
	if again := localized(t, s, r, "region1/zone1/subzone1", map[string]string{"app": "x"}); again != lr {
		t.Errorf("the same place (labels no policy compares aside) gave a new role")
	}
	// A proxy with no locality is as far from every endpoint: all stay at priority 0.
	if got := localized(t, s, r, "", nil); got != r {
		t.Errorf("proxy without a locality got a different role: %s", placement(t, got))
	}
}

func TestLocalizedFailoverRegions(t *testing.T) {
	s, r := compileLocality(t, `    loadBalancer:
      localityLbSetting:
        failover: [{from: region1, to: region3}]
`+outlier)
	// region3 is region1's failover: next after region1; region2 after that.
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", nil)), "1:0/1 2:1/1 3:2/1 4:4/1 5:3/1"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// No entry for region2's proxies: every other region is equally far.
	if got, want := placement(t, localized(t, s, r, "region2/zone1/subzone1", nil)), "1:1/1 2:1/1 3:1/1 4:0/1 5:1/1"; got != want {
		t.Errorf("proxy in region2: got %s, want %s", got, want)
	}
	if clusterOf(r, reviewsCluster).GetCommonLbConfig().GetLocalityWeightedLbConfig() == nil {
		t.Errorf("explicit failover without locality_weighted_lb_config (Istio sets it)")
	}
}

func TestLocalizedFailoverNeedsOutlierDetection(t *testing.T) {
	s, r := compileLocality(t, `    loadBalancer:
      localityLbSetting:
        failover: [{from: region1, to: region3}]
`)
	if got := localized(t, s, r, "region1/zone1/subzone1", nil); got != r {
		t.Errorf("failover without outlier detection changed endpoints: %s", placement(t, got))
	}
	s, r = compileLocality(t, `    loadBalancer:
      localityLbSetting: {enabled: false}
`+outlier)
	if got := localized(t, s, r, "region1/zone1/subzone1", nil); got != r {
		t.Errorf("enabled: false changed endpoints: %s", placement(t, got))
	}
}

func TestLocalizedDistribute(t *testing.T) {
	s, r := compileLocality(t, `    loadBalancer:
      localityLbSetting:
        distribute:
        - from: region1/zone1/*
          to: {"region1/zone1/*": 80, "region2/*": 20}
        - from: region3/*
          to: {"region1/*": 60, "region1/zone2/*": 40}
`)
	if clusterOf(r, reviewsCluster).GetCommonLbConfig().GetLocalityWeightedLbConfig() == nil {
		t.Fatalf("distribute without locality_weighted_lb_config")
	}
	// zone1's two localities share 80; region2 takes 20; the rest get nothing.
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone2", nil)), "1:0/40 2:0/40 4:0/20"; got != want {
		t.Errorf("proxy in region1/zone1: got %s, want %s", got, want)
	}
	// The more specific destination names region1/zone2 first; region1/* takes the rest.
	if got, want := placement(t, localized(t, s, r, "region3/zone1/subzone1", nil)), "1:0/30 2:0/30 3:0/40"; got != want {
		t.Errorf("proxy in region3: got %s, want %s", got, want)
	}
	if got := localized(t, s, r, "region2/zone1/subzone1", nil); got != r {
		t.Errorf("proxy no rule is from changed endpoints: %s", placement(t, got))
	}
}

func TestLocalizedFailoverPriority(t *testing.T) {
	s, r := compileLocality(t, `    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/network, topology.kubernetes.io/region]
`+outlier)
	// Network differs: priority 2; network same, region differs: 1; both same: 0; then
	// ranked densely from 0.
	n1 := map[string]string{"topology.istio.io/network": "n1"}
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", n1)), "1:0/1 2:2/1 3:2/1 4:1/1 5:2/1"; got != want {
		t.Errorf("proxy on n1 in region1: got %s, want %s", got, want)
	}
	n2 := map[string]string{"topology.istio.io/network": "n2"}
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", n2)), "1:1/1 2:0/1 3:1/1 4:1/1 5:1/1"; got != want {
		t.Errorf("proxy on n2 in region1: got %s, want %s", got, want)
	}
	// Without labels, the proxy's locality still gives it region labels (Istio's AugmentLabels),
	// and a label neither side has counts as the same: endpoints without a network come
	// first, and among them the proxy's region would.
	if got, want := placement(t, localized(t, s, r, "region2/zone1", nil)), "1:1/1 2:1/1 3:0/1 4:1/1 5:0/1"; got != want {
		t.Errorf("proxy in region2 without labels: got %s, want %s", got, want)
	}

	s, r = compileLocality(t, `    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/network=n2]
`+outlier)
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", n1)), "1:1/1 2:0/1 3:1/1 4:1/1 5:1/1"; got != want {
		t.Errorf("network pinned to n2: got %s, want %s", got, want)
	}
}

func TestLocalizedFailoverPriorityThenRegions(t *testing.T) {
	s, r := compileLocality(t, `    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/network]
        failover: [{from: region1, to: region3}]
`+outlier)
	n1 := map[string]string{"topology.istio.io/network": "n1"}
	// Network first (1 and 4 on n1), then nearness within each network group.
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", n1)), "1:0/1 2:2/1 3:3/1 4:1/1 5:4/1"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestLocalizedFromSnapshotFile checks that a snapshot read back from its file localises the
// same: the locality policy travels in the resources.
func TestLocalizedFromSnapshotFile(t *testing.T) {
	s, r := compileLocality(t, outlier)
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	a := localized(t, s, r, "region1/zone2", nil)
	b := localized(t, back, back.Role(SidecarRole), "region1/zone2", nil)
	if !maps.Equal(a.Versions, b.Versions) || placement(t, a) != placement(t, b) {
		t.Errorf("from file: %v %s, compiled: %v %s", b.Versions, placement(t, b), a.Versions, placement(t, a))
	}
}

func TestFailoverWithoutOutlierDetectionWarns(t *testing.T) {
	tree, findings := schema.Load([]schema.File{{Path: "reviews.yaml", Data: []byte(localityService + `    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/network]
`)}})
	if tree == nil || len(findings) > 0 {
		t.Fatalf("load: %v", findings)
	}
	snap, findings := Compile(tree)
	if snap == nil || len(findings) != 1 || findings[0].Severity != schema.SeverityWarning ||
		!strings.Contains(findings[0].String(), "spec.trafficPolicy.loadBalancer.localityLbSetting: failover takes effect only with outlierDetection") {
		t.Fatalf("findings: %v, want one warning at localityLbSetting", findings)
	}
	if got := findings[0].String(); !strings.HasPrefix(got, "reviews.yaml:") {
		t.Errorf("finding not positioned in the file: %s", got)
	}
}

// TestLocalizedCacheIsBounded: node.locality is whatever clients send, so the snapshot's cache
// of localised roles must not grow with every new one.
func TestLocalizedCacheIsBounded(t *testing.T) {
	s, r := compileLocality(t, outlier)
	for i := range maxPlaces + 10 {
		localized(t, s, r, fmt.Sprintf("region1/zone1/rack-%d", i), nil)
	}
	if n := len(s.local.roles); n == 0 || n > maxPlaces {
		t.Errorf("%d places cached after %d, want at most %d", n, maxPlaces+10, maxPlaces)
	}
}

// TestMeshLocalitySetting: signalbox.yaml's localityLbSetting is what a DestinationRule without
// one of its own gets, as Istio's meshConfig.localityLbSetting is.
func TestMeshLocalitySetting(t *testing.T) {
	s, r := compileLocalityWith(t, "localityLbSetting:\n  failover: [{from: region1, to: region3}]\n", outlier)
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", nil)), "1:0/1 2:1/1 3:2/1 4:4/1 5:3/1"; got != want {
		t.Errorf("mesh-wide failover to region3: %s, want %s", got, want)
	}
	s, r = compileLocalityWith(t, "localityLbSetting: {enabled: false}\n", outlier)
	if got := localized(t, s, r, "region1/zone1/subzone1", nil); got != r {
		t.Errorf("mesh-wide enabled: false still localised: %s", placement(t, got))
	}
	// The DestinationRule's own setting wins over the mesh's.
	s, r = compileLocalityWith(t, "localityLbSetting: {enabled: false}\n", `    loadBalancer:
      localityLbSetting: {enabled: true}
`+outlier)
	if got, want := placement(t, localized(t, s, r, "region1/zone1/subzone1", nil)), "1:0/1 2:1/1 3:2/1 4:3/1 5:3/1"; got != want {
		t.Errorf("rule enabled over mesh disabled: %s, want %s", got, want)
	}
}
