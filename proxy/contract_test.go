package proxy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// TestCompilerGoldensDecode is the contract with the compiler: every Listener, scope, Route,
// Cluster and ClusterLoadAssignment in its golden outputs is one this proxy accepts (a
// certificate file named by a golden need not exist here, so that error alone is tolerated).
// A role's route tables as compiled may carry source conditions, which the publisher resolves
// per proxy (the ROLE@PLACE goldens are what a proxy is served): this proxy must refuse those
// tables, and accept them once the conditions are resolved.
func TestCompilerGoldensDecode(t *testing.T) {
	files, _ := filepath.Glob("../testdata/compiler/*/out/*.yaml")
	if len(files) == 0 {
		t.Skip("no compiler golden outputs")
	}
	for _, f := range files {
		base := filepath.Base(f)
		var kind string
		for _, k := range []string{"clusters", "endpoints", "listeners", "scopes", "routes"} {
			if strings.HasSuffix(base, "."+k+".yaml") {
				kind = k
			}
		}
		if kind == "" {
			continue
		}
		b, _ := os.ReadFile(f)
		for i, doc := range strings.Split(string(b), "\n---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Errorf("%s[%d]: %v", f, i, err)
				continue
			}
			var m proto.Message
			switch kind {
			case "clusters":
				m = &clusterv3.Cluster{}
			case "endpoints":
				m = &endpointv3.ClusterLoadAssignment{}
			case "listeners":
				m = &listenerv3.Listener{}
			case "scopes":
				m = &routev3.ScopedRouteConfiguration{}
			case "routes":
				m = &routev3.RouteConfiguration{}
			}
			if err := protojson.Unmarshal(js, m); err != nil {
				t.Errorf("%s[%d]: %v", f, i, err)
				continue
			}
			switch v := m.(type) {
			case *clusterv3.Cluster:
				_, err = decodeCluster(v)
			case *endpointv3.ClusterLoadAssignment:
				_, err = decodeClusterLoadAssignment(v)
			case *listenerv3.Listener:
				_, err = decodeListener(v)
			case *routev3.ScopedRouteConfiguration:
				_, err = decodeScope(v)
			case *routev3.RouteConfiguration:
				_, err = decodeRouteConfiguration(v)
				if conditional(v) {
					if err == nil || !strings.Contains(err.Error(), "signalbox.source") {
						t.Errorf("%s[%d]: a table with unresolved source conditions: %v, want refused naming the field", f, i, err)
					}
					continue
				}
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s[%d]: %v", f, i, err)
			}
		}
	}
}

// conditional reports whether a route table carries routes with unresolved source conditions.
func conditional(rc *routev3.RouteConfiguration) bool {
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetMetadata().GetFilterMetadata()["signalbox"].GetFields()["source"] != nil {
				return true
			}
		}
	}
	return false
}
