package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/proxy"
)

// A bad --locality is a usage error (exit 2) that names the flag, before any connection.
func TestProxyLocalityFlag(t *testing.T) {
	for value, want := range map[string]string{
		"us-east1//rack-1":  "the zone is empty",
		"us-east1/b/":       "the sub-zone is empty",
		"/b":                "the region is empty",
		"a/b/c/d":           "4 parts",
		"us-east1/b/rack/1": "4 parts",
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"proxy", "--xds", "127.0.0.1:1", "--locality", value}, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), `invalid value "`+value+`" for flag -locality: `+want) {
			t.Errorf("--locality %q: exit %d, stderr %q; want exit %d and %q", value, code, stderr.String(), exitUsage, want)
		}
	}

	for value, want := range map[string]proxy.Locality{
		"us-east1":                   {Region: "us-east1"},
		"us-east1/us-east1-b":        {Region: "us-east1", Zone: "us-east1-b"},
		"us-east1/us-east1-b/rack-7": {Region: "us-east1", Zone: "us-east1-b", SubZone: "rack-7"},
		"":                           {},
	} {
		var f localityFlag
		if err := f.Set(value); err != nil || f.Locality != want || f.String() != value {
			t.Errorf("--locality %q: %+v (%q), %v; want %+v", value, f.Locality, f.String(), err, want)
		}
	}
}
