package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/source"
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

// A file over the size limit is a finding at its place, path as the user names the tree (on
// disk and in git), in every format; the rest of the tree is still validated.
func TestValidateLargeFileIsAFinding(t *testing.T) {
	const badRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: -5
`
	root := t.TempDir()
	repo, err := demo.InitRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CommitFiles("a file too large", map[string][]byte{
		"policies/sub/big.yaml": make([]byte, source.MaxFileSize+1),
		"policies/bad.yaml":     []byte(badRoute),
	}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	const (
		big = "policies/sub/big.yaml:1:1: error: file is 8388609 bytes, over the limit of 8388608 (8 MiB); it is not read\n"
		bad = "policies/bad.yaml:10:15: error: VirtualService default/reviews: spec.http[0].route[0].weight: must be >= 0"
	)
	for _, args := range [][]string{{"policies"}, {"--repo", ".", "policies"}} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"validate"}, args...), &stdout, &stderr)
		if code != exitFindings || !strings.Contains(stderr.String(), big) || !strings.Contains(stderr.String(), bad) {
			t.Errorf("validate %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		stdout.Reset()
		stderr.Reset()
		code = run(append([]string{"validate", "--format", "json"}, args...), &stdout, &stderr)
		if code != exitFindings || !strings.Contains(stdout.String(), `"file": "policies/sub/big.yaml",
    "line": 1,
    "column": 1,`) {
			t.Errorf("validate --format json %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
		stdout.Reset()
		stderr.Reset()
		code = run(append([]string{"compile"}, args...), &stdout, &stderr)
		if code != exitFindings || !strings.Contains(stderr.String(), big) {
			t.Errorf("compile %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
		}
	}
	// Named on the command line, the file is refused the same way.
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "policies/sub/big.yaml", "policies/bad.yaml"}, &stdout, &stderr)
	if code != exitFindings || !strings.Contains(stderr.String(), big) || !strings.Contains(stderr.String(), bad) {
		t.Errorf("validate FILES: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// A revision with such a file does not compile.
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"diff", "HEAD", "HEAD"}, &stdout, &stderr)
	if code != exitFindings || !strings.Contains(stderr.String(), "signalbox diff: HEAD (") ||
		!strings.Contains(stderr.String(), ") does not compile:\n") || !strings.Contains(stderr.String(), big) {
		t.Errorf("diff: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}
