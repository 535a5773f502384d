package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// The demo is the README's first command: it must run clean and tell the story it promises.
// Its backends listen on the loopback addresses the default policies declare (127.0.1x.y:9080).
func TestDemoRunsTheDefaultPolicies(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), &out); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"productpage v1 100.0%",
		"/admin is not routed by the gateway: HTTP 404",
		"reviews v1 100.0%",
		"reviews v2 100.0%",
		"refused, still serving",
		"spec.http[1].route[1].weight: must be >= 0, got -20",
		"the same version as the first commit",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	canary := regexp.MustCompile(`reviews v1 +(\d+\.\d)%   reviews v3 +(\d+\.\d)%`).FindStringSubmatch(text)
	if canary == nil {
		t.Fatalf("no canary split in the output:\n%s", text)
	}
}
