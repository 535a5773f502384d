package publisher

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

// twoRegions is a service with one endpoint in each of two regions and outlier detection, so
// Istio's default locality failover applies: each proxy's own region first.
const twoRegions = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.mesh]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.1.0.1, locality: us-east/zone-a}
  - {address: 10.2.0.1, locality: us-west/zone-a}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.mesh
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: %d}
`

func compileYAML(t *testing.T, src string) *compiler.Snapshot {
	t.Helper()
	s, findings := compiler.CompileFiles([]schema.File{{Path: "reviews.yaml", Data: []byte(src)}})
	if s == nil || schema.HasErrors(findings) {
		t.Fatalf("compile: %v", findings)
	}
	return s
}

// priorities renders the last endpoints a client got for reviews as "address:priority".
func priorities(c *adsClient) string {
	resp := c.last(resource.EndpointType)
	if resp == nil {
		return ""
	}
	var out []string
	for _, a := range resp.GetResources() {
		var cla endpointv3.ClusterLoadAssignment
		if err := a.UnmarshalTo(&cla); err != nil {
			c.t.Fatal(err)
		}
		if cla.GetClusterName() != "outbound|80||reviews.mesh" {
			continue
		}
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				out = append(out, fmt.Sprintf("%s:%d", e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress(), l.GetPriority()))
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestServesEndpointsLocalisedPerProxy checks that each proxy is sent endpoints prioritised for
// its own node.locality, that each counts as in sync with the tree version, and that /status
// reports where it is.
func TestServesEndpointsLocalisedPerProxy(t *testing.T) {
	p := startServing(t, compileYAML(t, fmt.Sprintf(twoRegions, 3)))
	east := dialADSAt(t, p.XDSAddr(), "east-1", &core.Locality{Region: "us-east", Zone: "zone-a"}, nil, nil, nil)
	west := dialADSAt(t, p.XDSAddr(), "west-1", &core.Locality{Region: "us-west", Zone: "zone-b"}, nil, nil, nil)
	nowhere := dialADS(t, p.XDSAddr(), "nowhere-1", nil, nil, nil)

	want := map[*adsClient]string{
		east:    "10.1.0.1:0 10.2.0.1:1",
		west:    "10.1.0.1:1 10.2.0.1:0",
		nowhere: "10.1.0.1:0 10.2.0.1:0", // as far from both: one priority
	}
	check := func(when string) {
		t.Helper()
		for c, w := range want {
			eventually(t, when+": endpoints "+w, func() bool { return priorities(c) == w })
		}
		version := p.Status().Version
		for _, id := range []string{"east-1", "west-1", "nowhere-1"} {
			eventually(t, when+": "+id+" in sync", func() bool {
				px, _ := proxyStatus(p, id)
				return px.InSync && px.Version == version
			})
		}
	}
	check("first publish")

	px, _ := proxyStatus(p, "east-1")
	if px.Locality != "us-east/zone-a" {
		t.Errorf("east-1 locality in /status: %q", px.Locality)
	}
	if px, _ := proxyStatus(p, "nowhere-1"); px.Locality != "" {
		t.Errorf("nowhere-1 locality in /status: %q", px.Locality)
	}
	ev := east.last(resource.EndpointType).GetVersionInfo()
	if wv := west.last(resource.EndpointType).GetVersionInfo(); ev == wv {
		t.Errorf("east and west were sent the same endpoints version %s", ev)
	}
	if ec, wc := east.last(resource.ClusterType).GetVersionInfo(), west.last(resource.ClusterType).GetVersionInfo(); ec != wc {
		t.Errorf("clusters version differs by place: %s and %s", ec, wc)
	}

	// A new publish localises again for every place, and the clients follow it.
	p.publish(compileYAML(t, fmt.Sprintf(twoRegions, 5)))
	check("second publish")
	if v := east.last(resource.EndpointType).GetVersionInfo(); v != ev {
		t.Errorf("endpoints version moved with a cluster-only change: %s → %s", ev, v)
	}
}

// TestDeltaEndpointsLocalised: a delta stream is sent the endpoints localised for its node too.
func TestDeltaEndpointsLocalised(t *testing.T) {
	p := startServing(t, compileYAML(t, fmt.Sprintf(twoRegions, 3)))
	for _, c := range []struct {
		locality *core.Locality
		want     string
	}{
		{&core.Locality{Region: "us-west"}, "10.1.0.1:1 10.2.0.1:0"},
		{&core.Locality{Region: "us-east", Zone: "zone-a"}, "10.1.0.1:0 10.2.0.1:1"},
	} {
		d := dialDelta(t, p.XDSAddr(), "delta-"+c.locality.GetRegion())
		d.node.Locality = c.locality
		d.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType})
		resp := d.next()
		var got []string
		for _, r := range resp.GetResources() {
			var cla endpointv3.ClusterLoadAssignment
			if err := r.GetResource().UnmarshalTo(&cla); err != nil {
				t.Fatal(err)
			}
			for _, l := range cla.GetEndpoints() {
				for _, e := range l.GetLbEndpoints() {
					got = append(got, fmt.Sprintf("%s:%d", e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress(), l.GetPriority()))
				}
			}
		}
		slices.Sort(got)
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("delta client in %v: %s, want %s", c.locality, g, c.want)
		}
	}
}
