package compiler_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

// TestIstioMutualIgnoredFields: Istio's validation accepts certificate files, credentialName,
// insecureSkipVerify and caCrl beside ISTIO_MUTUAL and its translation ignores them; so does
// signalbox, which uses the mesh's certificates, with a warning at each field. (The cluster TLS
// is the istiomutual golden case; without meshCertificates the unsupported one.)
func TestIstioMutualIgnoredFields(t *testing.T) {
	tree, findings := schema.Load([]schema.File{
		{Path: "signalbox.yaml", Data: []byte("meshCertificates: {certificateChain: /etc/certs/cert-chain.pem, privateKey: /etc/certs/key.pem, caCertificates: /etc/certs/root-cert.pem}\n")},
		{Path: "mesh.yaml", Data: []byte(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1, serviceAccount: reviews}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
      clientCertificate: /etc/other/cert.pem
      privateKey: /etc/other/key.pem
      caCertificates: /etc/other/ca.pem
      insecureSkipVerify: true
`)}})
	snap, more := compiler.Compile(tree)
	findings = append(findings, more...)
	if snap == nil || schema.HasErrors(findings) {
		t.Fatalf("the tree must compile: %v", findings)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	want := []string{
		"mesh.yaml:18:26: warning: DestinationRule default/reviews: spec.trafficPolicy.tls.clientCertificate: " + ignored,
		"mesh.yaml:19:19: warning: DestinationRule default/reviews: spec.trafficPolicy.tls.privateKey: " + ignored,
		"mesh.yaml:20:23: warning: DestinationRule default/reviews: spec.trafficPolicy.tls.caCertificates: " + ignored,
		"mesh.yaml:21:27: warning: DestinationRule default/reviews: spec.trafficPolicy.tls.insecureSkipVerify: " + ignored,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const ignored = "ignored with mode ISTIO_MUTUAL, as Istio ignores it: the mesh's certificates (meshCertificates in signalbox.yaml) are used"
