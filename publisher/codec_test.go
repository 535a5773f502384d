package publisher

import (
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/signalbox/signalbox/compiler"
)

// A prepared response goes out as the shared body plus its nonce, and decodes to exactly the
// message the standard codec would have sent; any other response is marshalled normally.
func TestSharedCodecBytes(t *testing.T) {
	s := snapshot("a", role(compiler.SidecarRole, nil, "a", "reviews", "ratings"))
	roles, err := prepareRoles(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := newBodyRegistry()
	reg.set(roles)
	codec := newSharedCodec(reg)
	pt := roles[compiler.SidecarRole].types[resource.ClusterType]

	shared := &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all, TypeUrl: resource.ClusterType, Nonce: "42"}
	subset := &discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all[:1], TypeUrl: resource.ClusterType, Nonce: "43"}
	stale := &discovery.DiscoveryResponse{VersionInfo: "other", Resources: pt.all, TypeUrl: resource.ClusterType, Nonce: "44"}
	for name, msg := range map[string]*discovery.DiscoveryResponse{"shared": shared, "subset": subset, "stale": stale} {
		out, err := codec.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(out); (name == "shared") != (got == 2) {
			t.Errorf("%s: %d buffers; only the full prepared response is body + nonce", name, got)
		}
		var back discovery.DiscoveryResponse
		if err := proto.Unmarshal(out.Materialize(), &back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&back, msg) {
			t.Errorf("%s: decoded %v, want %v", name, &back, msg)
		}
	}
	if reg.lookup(shared) == nil || &reg.lookup(shared)[0] != &pt.sotwBody()[0] {
		t.Error("the body is not shared between lookups")
	}
}
