package schema

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIgnoreUnknown(t *testing.T) {
	files := []File{{Path: "app.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
---
- a list
---
apiVersion: networking.istio.io/v1
kind: EnvoyFilter
metadata: {name: default}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec: {host: web}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
---
apiVersion: networking.istio.io/v1
kind: VirtualServce
metadata: {name: typo}
`)}}
	tree, findings := LoadWithOptions(files, Options{IgnoreUnknown: true})
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	// Istio's own kinds are skipped with a warning, so a repository holding them validates;
	// an unknown kind of a group signalbox compiles stays an error (a misspelt kind).
	want := []string{
		"app.yaml:12:7: warning: EnvoyFilter default/default: kind EnvoyFilter is not compiled by signalbox: skipped (--ignore-unknown), so no proxy applies it",
		"app.yaml:21:7: warning: Telemetry istio-system/mesh-default: kind Telemetry is not compiled by signalbox: skipped (--ignore-unknown), so no proxy applies it",
		"app.yaml:25:7: error: VirtualServce default/typo: kind VirtualServce (networking.istio.io/v1) is not an Istio traffic policy, and --ignore-unknown does not skip an unknown kind of networking.istio.io or security.istio.io: is it misspelt?",
	}
	if !slices.Equal(got, want) || len(tree.Documents) != 1 {
		t.Errorf("findings:\n%s\nwant:\n%s\ndocuments: %d", strings.Join(got, "\n"), strings.Join(want, "\n"), len(tree.Documents))
	}
	if _, findings := Load(files); len(findings) != 6 {
		t.Errorf("without IgnoreUnknown: %v", findings)
	}
}

// TestCache: loading a tree again after one file changed gives the same result as loading it
// afresh, reuses the documents of the unchanged files, and sees the change.
func TestCache(t *testing.T) {
	files := smallTree(400)
	first, _ := Load(files)
	changed := slices.Clone(files)
	changed[1].Data = []byte(strings.Replace(string(changed[1].Data), "weight: 90", "weight: 80", 1))
	second, findings := Load(changed)
	if len(findings) > 0 || len(second.Documents) != 400 {
		t.Fatalf("%d documents, findings %v", len(second.Documents), findings)
	}
	same, diff := 0, 0
	byID := map[string]*Document{}
	for _, d := range first.Documents {
		byID[d.Kind+d.Namespace+d.Name] = d
	}
	for _, d := range second.Documents {
		if byID[d.Kind+d.Namespace+d.Name] == d {
			same++
		} else {
			diff++
			if d.Pos.File != changed[1].Path {
				t.Errorf("%s %s was validated again though its file did not change", d.Kind, d.Name)
			}
		}
	}
	if diff != 100 || same != 300 {
		t.Errorf("%d documents shared, %d new; want 300 and 100", same, diff)
	}
	theCache.reset()
	fresh, _ := Load(changed)
	if !reflect.DeepEqual(fresh, second) {
		t.Error("a cached load differs from a fresh one")
	}
	// Options are part of the key: the same file loads differently without IgnoreUnknown.
	k8s := []File{{Path: "k8s.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")}}
	if _, f := LoadWithOptions(k8s, Options{IgnoreUnknown: true}); len(f) != 0 {
		t.Error(f)
	}
	if _, f := Load(k8s); len(f) != 1 {
		t.Error(f)
	}
}

func TestCacheBounded(t *testing.T) {
	c := newResultCache(2)
	for i := byte(0); i < 5; i++ {
		c.put(cacheKey{i}, &fileResult{})
	}
	if _, ok := c.get(cacheKey{0}); ok || c.order.Len() != 2 {
		t.Errorf("%d entries kept", c.order.Len())
	}
	if _, ok := c.get(cacheKey{4}); !ok {
		t.Error("the newest entry was dropped")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1.5s": 1500 * time.Millisecond, "300ms": 300 * time.Millisecond, "1h30m": 90 * time.Minute,
		"0": 0, "0s": 0, "10us": 10 * time.Microsecond, "-1s": -time.Second,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1", "s", "1.5", "1 s", " 1s", "apple", "1d", "100000000000h"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

// TestTypedSecurityAndProtoNames: the new kinds decode into their structs, and fields written
// with their proto names land in the same place.
func TestTypedSecurityAndProtoNames(t *testing.T) {
	tree := loadClean(t, File{Path: "p.yaml", Data: []byte(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: STRICT}
  portLevelMtls: {"8080": {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web}
spec:
  action: DENY
  rules:
  - from: [{source: {notNamespaces: [web]}}]
    to: [{operation: {methods: [POST], ports: ["8080"]}}]
    when: [{key: "request.headers[x-debug]", values: ["1"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
    mirror: {host: web-shadow}
    mirror_percent: 20
    retries: {attempts: 3, per_try_timeout: 2s}
`)})
	ap := tree.Documents[0].Spec.(*AuthorizationPolicy)
	if ap.Action != "DENY" || ap.Rules[0].From[0].Source.NotNamespaces[0] != "web" ||
		ap.Rules[0].To[0].Operation.Ports[0] != "8080" || ap.Rules[0].When[0].Key != "request.headers[x-debug]" {
		t.Errorf("AuthorizationPolicy: %+v", ap)
	}
	pa := tree.Documents[1].Spec.(*PeerAuthentication)
	if pa.MTLS.Mode != "STRICT" || pa.PortLevelMTLS[8080].Mode != "PERMISSIVE" || pa.Selector.MatchLabels["app"] != "web" {
		t.Errorf("PeerAuthentication: %+v", pa)
	}
	r := tree.Documents[2].Spec.(*VirtualService).HTTP[0]
	if r.MirrorPercent == nil || *r.MirrorPercent != 20 || r.Retries.PerTryTimeout != "2s" || r.Mirror.Host != "web-shadow" {
		t.Errorf("route: %+v", r)
	}
	if p := tree.Documents[2].PosOf("spec.http[0].mirrorPercent"); p.Line != 27 {
		t.Errorf("mirror_percent at %s", p)
	}
}
