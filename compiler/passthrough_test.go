package compiler_test

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// TestPassthroughWarnings checks what the tlspassthrough golden case cannot show (its tree
// compiles, so its goldens hold no findings): a PASSTHROUGH server no tls route reaches warns
// and gets no listener, and a match for a server name another route already claims on the port
// is left out with a warning naming that route, as Istio leaves it out.
func TestPassthroughWarnings(t *testing.T) {
	files, err := source.ReadDir("../testdata/compiler/tlspassthrough/in")
	if err != nil {
		t.Fatal(err)
	}
	tree, findings := schema.Load(files)
	snap, more := compiler.Compile(tree)
	findings = append(findings, more...)
	if snap == nil || schema.HasErrors(findings) {
		t.Fatalf("the tree must compile: %v", findings)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"passthrough.yaml:63:5: warning: Gateway default/mygateway: spec.servers[3]: no VirtualService bound to gateway default/mygateway has a tls route for port 8443",
		`spec.tls[0].match[0].sniHosts[0]: server name "nginx.example.com" on port 443 is already routed by VirtualService default/nginx (spec.tls[0].match[0])`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing finding %q in:\n%s", want, all)
		}
	}
	if len(got) != 2 {
		t.Errorf("got %d findings, want the 2 warnings:\n%s", len(got), all)
	}
}
