package publisher

import (
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/signalbox/signalbox/compiler"
)

// A shared response goes out as the shared body plus its nonce, and decodes to exactly the
// message the standard codec would have sent; any other message is marshalled normally.
func TestSharedCodecBytes(t *testing.T) {
	a := role(compiler.SidecarRole, nil, "a", "reviews", "ratings")
	older, err := prepareRoles(snapshot("a", a), nil)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := prepareRoles(snapshot("b", retimed(a, "ratings", 3*time.Second)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt := newer[compiler.SidecarRole].types[resource.ClusterType]
	d := pt.diffFrom(older[compiler.SidecarRole].types[resource.ClusterType])
	if len(d.changed) != 1 {
		t.Fatalf("%d clusters changed, want 1", len(d.changed))
	}
	codec := newSharedCodec()
	check := func(name string, v any, want, got proto.Message, buffers int) {
		t.Helper()
		out, err := codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != buffers {
			t.Errorf("%s: %d buffers, want %d", name, len(out), buffers)
		}
		if err := proto.Unmarshal(out.Materialize(), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: decoded %v, want %v", name, got, want)
		}
	}
	check("sotw whole type", &encodedResponse{body: pt.sotwBody(), nonce: "42"},
		&discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all, TypeUrl: resource.ClusterType, Nonce: "42"},
		&discovery.DiscoveryResponse{}, 2)
	check("sotw changes", &encodedResponse{body: d.encodedSotw(pt), nonce: "43"},
		&discovery.DiscoveryResponse{VersionInfo: pt.version, Resources: pt.all[pt.byKey["ratings"] : pt.byKey["ratings"]+1], TypeUrl: resource.ClusterType, Nonce: "43"},
		&discovery.DiscoveryResponse{}, 2)
	check("delta changes", &encodedResponse{body: d.encoded(pt), nonce: "44"},
		&discovery.DeltaDiscoveryResponse{SystemVersionInfo: pt.version, Resources: d.changed, TypeUrl: resource.ClusterType, Nonce: "44"},
		&discovery.DeltaDiscoveryResponse{}, 2)
	plain := &discovery.DiscoveryResponse{VersionInfo: "v", Resources: pt.all[:1], TypeUrl: resource.ClusterType, Nonce: "45"}
	check("any other", plain, plain, &discovery.DiscoveryResponse{}, 1)

	if pt.diffFrom(older[compiler.SidecarRole].types[resource.ClusterType]) != d || &d.encoded(pt)[0] != &d.encoded(pt)[0] {
		t.Error("the changes between two types are not shared")
	}
}
