package schema

import (
	"testing"

	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// An error of a CUE file is positioned at the field its path names, through lists, quoted
// labels, embeddings and unifications; with neither a position nor a path found, at 1:1.
func TestCUEErrorPositions(t *testing.T) {
	const src = `a: {
	"b-c": [1, {d: 2}]
}
{e: f: 3}
g: {h: 1} & {i: 2}
`
	file, err := parser.ParseFile("p.cue", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"a"}, "p.cue:1:4"},
		{[]string{"a", `"b-c"`, "1", "d"}, "p.cue:2:17"},
		{[]string{"a", "b-c", "0"}, "p.cue:2:10"},
		{[]string{"a", "b-c", "7"}, "p.cue:2:9"}, // no such element: the list
		{[]string{"e", "f"}, "p.cue:4:8"},
		{[]string{"g", "i"}, "p.cue:5:17"},
		{[]string{"nowhere"}, "p.cue:1:1"},
		{nil, "p.cue:1:1"},
	} {
		if got := cuePos("p.cue", fieldPos(file, c.path)).String(); got != c.want {
			t.Errorf("%q: %s, want %s", c.path, got, c.want)
		}
	}

	l := &loader{}
	l.cueErrors("p.cue", file, errors.Newf(token.NoPos, "no position, no path"))
	if len(l.findings) != 1 || l.findings[0].String() != "p.cue:1:1: error: no position, no path" {
		t.Errorf("findings %v", l.findings)
	}
}
