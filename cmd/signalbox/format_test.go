package main

import (
	"bytes"
	"testing"

	"github.com/signalbox/signalbox/schema"
)

// GitHub unescapes workflow commands: %25 %0D %0A in the message, also %3A %2C in properties.
func TestGitHubEscaping(t *testing.T) {
	var out bytes.Buffer
	f := schema.Finding{Pos: schema.Pos{File: "odd:dir/a,b.yaml", Line: 3, Col: 7}, Severity: schema.SeverityError,
		Kind: "VirtualService", Namespace: "default", Name: "x", Message: "100% wrong\r\nsecond line: a, b"}
	if err := writeGitHub(findingOutput{stdout: &out}, []schema.Finding{f}); err != nil {
		t.Fatal(err)
	}
	want := "::error file=odd%3Adir/a%2Cb.yaml,line=3,col=7,title=signalbox VirtualService default/x::100%25 wrong%0D%0Asecond line: a, b\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}
