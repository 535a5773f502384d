package compiler_test

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

// TestPeerAuthenticationPermitting: PeerAuthentications that let plain text in (PERMISSIVE,
// DISABLE, UNSET) ask nothing signalbox fails to do: the tree compiles, each with a warning
// at its kind saying there is nothing to enforce. (STRICT is refused: the authzunsupported
// golden case.)
func TestPeerAuthenticationPermitting(t *testing.T) {
	tree, findings := schema.Load([]schema.File{{Path: "peers.yaml", Data: []byte(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: legacy}
spec:
  mtls: {mode: DISABLE}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: inherit, namespace: shop}
spec:
  selector: {matchLabels: {app: shop}}
  portLevelMtls:
    8080: {mode: PERMISSIVE}
`)}})
	snap, more := compiler.Compile(tree)
	findings = append(findings, more...)
	if snap == nil || schema.HasErrors(findings) {
		t.Fatalf("the tree must compile: %v", findings)
	}
	warned := 0
	for _, f := range findings {
		if s := f.String(); strings.Contains(s, "warning: PeerAuthentication") && strings.Contains(s, ": kind: ") && strings.Contains(s, "nothing to enforce") {
			warned++
		}
	}
	if warned != 3 || len(findings) != 3 {
		t.Errorf("want one warning per PeerAuthentication and nothing else, got %v", findings)
	}
}
