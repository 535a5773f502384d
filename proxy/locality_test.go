package proxy

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
)

// TestNodeLocality: the node a proxy names on its ADS stream carries Options.Locality, and
// GET /config reports it; a proxy without one sends none.
func TestNodeLocality(t *testing.T) {
	xds := startXDS(t, "127.0.0.1:0")
	loc, err := ParseLocality("us-east1/us-east1-b/rack-7")
	if err != nil {
		t.Fatal(err)
	}
	placed := New(Options{XDSAddr: xds.addr, NodeID: "placed", Locality: loc})
	runProxy(t, placed)
	unplaced := New(Options{XDSAddr: xds.addr, NodeID: "unplaced"})
	runProxy(t, unplaced)

	nodeOf := func(id string) *core.Node {
		return xds.waitRequest(t, func(r *discoveryv3.DiscoveryRequest) bool { return r.GetNode().GetId() == id }).GetNode()
	}
	want := &core.Locality{Region: "us-east1", Zone: "us-east1-b", SubZone: "rack-7"}
	if got := nodeOf("placed").GetLocality(); !proto.Equal(got, want) {
		t.Errorf("node locality %v, want %v", got, want)
	}
	if got := nodeOf("unplaced").GetLocality(); got != nil {
		t.Errorf("a proxy without a locality sent %v", got)
	}
	if got := configOf(t, placed).Locality; got == nil || *got != loc {
		t.Errorf("/config locality %+v, want %+v", got, loc)
	}
	if got := configOf(t, unplaced).Locality; got != nil {
		t.Errorf("/config locality %+v for a proxy without one", got)
	}
}

func TestParseLocality(t *testing.T) {
	for s, want := range map[string]Locality{
		"":      {},
		"r":     {Region: "r"},
		"r/z":   {Region: "r", Zone: "z"},
		"r/z/s": {Region: "r", Zone: "z", SubZone: "s"},
	} {
		if got, err := ParseLocality(s); err != nil || got != want || got.String() != s {
			t.Errorf("ParseLocality(%q) = %+v (%q), %v", s, got, got.String(), err)
		}
	}
	for _, s := range []string{"/", "r/", "/z", "r//s", "r/z/", "r/z/s/x", "//"} {
		if got, err := ParseLocality(s); err == nil {
			t.Errorf("ParseLocality(%q) = %+v, want an error", s, got)
		}
	}
}
