package compiler_test

import (
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// TestMixedPortFindings: on a port where some names are terminated and others passed through,
// a tls route for a terminated name is left out with a warning (the gatewaymixed golden case),
// and an HTTPS server for a name a tls route already passes through is an error.
func TestMixedPortFindings(t *testing.T) {
	files, err := source.ReadDir("../testdata/compiler/gatewaymixed/in")
	if err != nil {
		t.Fatal(err)
	}
	tree, findings := schema.Load(files)
	snap, more := compiler.Compile(tree)
	findings = append(findings, more...)
	if snap == nil || schema.HasErrors(findings) || len(findings) != 1 ||
		!strings.Contains(findings[0].String(), `spec.tls[1].match[0].sniHosts[0]: server name "app.example.com" on port 443 is already routed by an HTTPS server of the port`) {
		t.Errorf("gatewaymixed: want it compiled with one warning for the terminated name, got %v", findings)
	}

	// The same servers the other way round: the passthrough server comes first (gateways are taken by name).
	swapped := strings.Replace(string(files[0].Data), `  - port: {number: 443, name: https-app, protocol: HTTPS}
    hosts: [app.example.com]
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/app.crt, privateKey: /etc/certs/app.key}
`, "", 1) + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: z-late, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-app, protocol: HTTPS}
    hosts: [app.example.com]
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/app.crt, privateKey: /etc/certs/app.key}
`
	tree, findings = schema.Load([]schema.File{{Path: "edge.yaml", Data: []byte(swapped)}})
	_, more = compiler.Compile(tree)
	findings = append(findings, more...)
	got := ""
	for _, f := range findings {
		got += f.String() + "\n"
	}
	if !strings.Contains(got, `Gateway edge/z-late: spec.servers[0].hosts: host "app.example.com" on port 443 is already passed through by a tls route`) {
		t.Errorf("an HTTPS server for a passed-through name: want an error at its hosts, got:\n%s", got)
	}
}
