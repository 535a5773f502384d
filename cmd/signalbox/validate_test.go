package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The exit codes CI gates on: 0 clean or below the threshold, 1 at or above it, 2 usage.
func TestValidateExitCodes(t *testing.T) {
	const service = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: reviews
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: 10.0.0.1}
`
	const unusedGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ingress
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
`
	const badRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: nowhere}
`
	tree := func(docs ...string) string {
		dir := t.TempDir()
		for i, d := range docs {
			if err := os.WriteFile(filepath.Join(dir, "p"+string(rune('a'+i))+".yaml"), []byte(d), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	clean, warned, broken := tree(service), tree(service, unusedGateway), tree(service, badRoute)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{clean}, exitOK},
		{[]string{clean, "--fail-on", "warning"}, exitOK},
		{[]string{warned}, exitOK},
		{[]string{warned, "--fail-on", "warning"}, exitFindings},
		{[]string{warned, "--fail-on", "warning", "--suppress", "SB0009"}, exitOK},
		{[]string{broken}, exitFindings},
		{[]string{broken, "--format", "sarif"}, exitFindings},
		{[]string{broken, "--schema-only"}, exitOK},
		{[]string{broken, "--suppress", "SB0001"}, exitOK},
		{[]string{clean, "--format", "xml"}, exitUsage},
		{[]string{clean, "--fail-on", "never"}, exitUsage},
		{[]string{filepath.Join(clean, "missing")}, exitUsage},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(append([]string{"validate"}, c.args...), &stdout, &stderr); got != c.want {
			t.Errorf("validate %v: exit %d, want %d\n%s%s", c.args, got, c.want, stdout.String(), stderr.String())
		}
	}
}
