package compiler

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/schema"
)

// wildcardRule is a DestinationRule named name in namespace ns for host, with a load balancer
// to tell which rule a proxy took.
func wildcardRule(ns, name, host, lb string) string {
	return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  host: "` + host + `"
  trafficPolicy: {loadBalancer: {simple: ` + lb + `}}
`
}

const wildcardServices = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings, namespace: default}
spec:
  hosts: [ratings.default.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.2}]
`

// TestWildcardDestinationRules: a rule for a wildcard host applies to the services it covers,
// as Istio's PushContext.destinationRule finds rules with MostSpecificHostMatch in the proxy's
// namespace, then the service's, then the root namespace: the mesh-wide "*.local" rule of
// Istio's mTLS guides reaches every cluster-local service no nearer rule names, a rule for
// the host itself wins within a namespace, and a proxy's own namespace's wildcard wins over
// the service's namespace's rule for the host.
func TestWildcardDestinationRules(t *testing.T) {
	for name, c := range map[string]struct {
		rules string
		want  map[string]map[string]string // proxy namespace: host: load balancer of its cluster
	}{
		"root *.local": {wildcardRule("istio-system", "default", "*.local", "RANDOM"), map[string]map[string]string{
			"default": {"ratings.default.svc.cluster.local": "RANDOM", "api.example.com": "ROUND_ROBIN"},
			"":        {"ratings.default.svc.cluster.local": "RANDOM", "api.example.com": "ROUND_ROBIN"},
		}},
		"the host's own rule wins": {wildcardRule("istio-system", "default", "*.local", "RANDOM") +
			wildcardRule("default", "ratings", "ratings", "LEAST_REQUEST"), map[string]map[string]string{
			"default": {"ratings.default.svc.cluster.local": "LEAST_REQUEST"},
			"team-a":  {"ratings.default.svc.cluster.local": "LEAST_REQUEST"},
		}},
		"narrower wildcard wins in a namespace": {wildcardRule("istio-system", "local", "*.local", "RANDOM") +
			wildcardRule("istio-system", "svc", "*.svc.cluster.local", "LEAST_REQUEST") +
			wildcardRule("istio-system", "all", "*", "RANDOM"), map[string]map[string]string{
			"default": {"ratings.default.svc.cluster.local": "LEAST_REQUEST", "api.example.com": "RANDOM"},
		}},
		"the proxy's namespace first": {wildcardRule("default", "ratings", "ratings", "LEAST_REQUEST") +
			wildcardRule("team-a", "everything", "*", "RANDOM"), map[string]map[string]string{
			"team-a":  {"ratings.default.svc.cluster.local": "RANDOM", "api.example.com": "RANDOM"},
			"default": {"ratings.default.svc.cluster.local": "LEAST_REQUEST", "api.example.com": "ROUND_ROBIN"},
			"team-b":  {"ratings.default.svc.cluster.local": "LEAST_REQUEST", "api.example.com": "ROUND_ROBIN"},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			tree, findings := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(wildcardServices + c.rules)}})
			if schema.HasErrors(findings) {
				t.Fatalf("load: %v", findings)
			}
			s, findings := Compile(tree)
			if s == nil || len(findings) > 0 {
				t.Fatalf("compile: %v", findings)
			}
			for ns, hosts := range c.want {
				got, _ := servedClusters(t, s, SidecarRole, ns)
				for host, lb := range hosts {
					if name := "outbound|80||" + host; got[name] != lb {
						t.Errorf("proxy in %q: %s is %q, want %q", ns, name, got[name], lb)
					}
				}
			}
		})
	}
}

// TestWildcardDestinationRuleCoveringNothing is said, not dropped.
func TestWildcardDestinationRuleCoveringNothing(t *testing.T) {
	tree, _ := schema.Load([]schema.File{{Path: "mesh.yaml", Data: []byte(wildcardServices +
		wildcardRule("istio-system", "corp", "*.corp.internal", "RANDOM"))}})
	_, findings := Compile(tree)
	if len(findings) != 1 || !strings.Contains(findings[0].String(), `mesh.yaml:23:9: warning: DestinationRule istio-system/corp: spec.host: host "*.corp.internal" covers no service`) {
		t.Errorf("findings %v", findings)
	}
}
