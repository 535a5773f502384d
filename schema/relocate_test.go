package schema

import "testing"

// Every path a user reads after relocation opens from where they stand: the finding's own
// position and any position its message quotes.
func TestRelocateMovesQuotedPositionsToo(t *testing.T) {
	in := []Finding{{
		Pos:      Pos{File: "b.yaml", Line: 3, Col: 1},
		Severity: SeverityError,
		Message:  "duplicate VirtualService default/reviews, first defined at ns/a.yaml:7:1",
	}, {
		Pos:      Pos{File: "signalbox.yaml", Line: 1, Col: 1},
		Severity: SeverityError,
		Message:  "sidecarListener: \"x\" is not host:port at all",
	}}
	out := Relocate(in, "policies")
	if got, want := out[0].String(), "policies/b.yaml:3:1: error: duplicate VirtualService default/reviews, first defined at policies/ns/a.yaml:7:1"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := out[1].Message, in[1].Message; got != want {
		t.Errorf("a message quoting no position changed: %q", got)
	}
	if in[0].Pos.File != "b.yaml" || in[0].Message != "duplicate VirtualService default/reviews, first defined at ns/a.yaml:7:1" {
		t.Error("Relocate modified its input")
	}
	if same := Relocate(in, "."); same[0] != in[0] {
		t.Errorf("dir \".\" changed a finding: %+v", same[0])
	}
}
