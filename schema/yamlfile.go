package schema

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	cueyaml "cuelang.org/go/encoding/yaml"
	yamlv2 "go.yaml.in/yaml/v2"
)

// yamlFile loads every document of a YAML stream. The decoder keeps each value's position; a
// syntax error ends the file (YAML cannot resynchronize), documents before it stay loaded.
func (l *loader) yamlFile(f File) {
	l.eachYAMLDocument(f, func(x ast.Expr) { l.document(f.Path, x) })
}

func (l *loader) eachYAMLDocument(f File, fn func(ast.Expr)) {
	if bad := checkText(f); bad != nil {
		l.findings = append(l.findings, *bad)
		return
	}
	if bad := checkMerges(f); bad != nil {
		l.findings = append(l.findings, *bad)
		return
	}
	dec := cueyaml.NewDecoder(f.Path, bytes.NewReader(f.Data))
	for n := 0; ; n++ {
		x, err := dec.Extract()
		if err == io.EOF {
			return
		}
		if err != nil {
			l.findings = append(l.findings, yamlError(f, err))
			return
		}
		if n == MaxDocumentsPerFile {
			l.findings = append(l.findings, fileFinding(posAt(f.Path, x.Pos()),
				fmt.Sprintf("more than %d documents in one file (the limit); split the file", MaxDocumentsPerFile)))
			return
		}
		fn(x)
	}
}

// checkMerges refuses the merge keys ("<<: *a") the decoder mishandles: one merging a mapping
// into itself makes it recurse without end (its guard covers aliases, not merges), one merging a
// list makes it panic. go.yaml.in/yaml/v2 detects both; it only runs on files with a merge key.
func checkMerges(f File) *Finding {
	if !bytes.Contains(f.Data, []byte("<<")) && !bytes.Contains(f.Data, []byte("merge")) {
		return nil
	}
	dec := yamlv2.NewDecoder(bytes.NewReader(f.Data))
	for {
		var v any
		err := dec.Decode(&v)
		if err == nil {
			continue
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if !strings.Contains(msg, "contains itself") && !strings.HasPrefix(msg, "map merge requires") {
			return nil // the end, or an error the decoder reports its own way
		}
		pos := Pos{File: f.Path}
		if name, ok := strings.CutPrefix(msg, "anchor '"); ok {
			name, _, _ = strings.Cut(name, "'")
			if i := bytes.Index(f.Data, []byte("&"+name)); i >= 0 {
				pos = offsetPos(f, i)
			}
		} else if i := bytes.Index(f.Data, []byte("<<")); i >= 0 {
			pos = offsetPos(f, i) // the first merge key: the decoder names none
		}
		fd := fileFinding(pos, "invalid YAML: "+msg)
		return &fd
	}
}

// checkText refuses what is not UTF-8 text before the YAML parser sees it, with a position:
// binary files (a NUL byte), other encodings (invalid UTF-8).
func checkText(f File) *Finding {
	if i := bytes.IndexByte(f.Data, 0); i >= 0 {
		fd := fileFinding(offsetPos(f, i), "binary data (a NUL byte), not a YAML text file")
		return &fd
	}
	if utf8.Valid(f.Data) {
		return nil
	}
	for i := 0; i < len(f.Data); {
		r, size := utf8.DecodeRune(f.Data[i:])
		if r == utf8.RuneError && size <= 1 {
			fd := fileFinding(offsetPos(f, i), fmt.Sprintf("not valid UTF-8 (byte 0x%02x); policy files must be UTF-8 text", f.Data[i]))
			return &fd
		}
		i += size
	}
	return nil
}

// offsetPos converts a byte offset into a line and a column (counted in characters).
func offsetPos(f File, off int) Pos {
	line := 1 + bytes.Count(f.Data[:off], []byte("\n"))
	start := bytes.LastIndexByte(f.Data[:off], '\n') + 1
	return Pos{File: f.Path, Line: line, Col: 1 + utf8.RuneCount(f.Data[start:off])}
}

// yamlError positions a YAML syntax error. The decoder reports "FILE:LINE: message" (a line,
// no column); a tab in the indentation of that line is named, it is the usual cause.
func yamlError(f File, err error) Finding {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	pos := Pos{File: f.Path}
	if rest, ok := strings.CutPrefix(msg, f.Path+":"); ok {
		msg = strings.TrimSpace(rest)
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				pos.Line, pos.Col = n, 1
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if line := problemLine(f.Data, msg); line > 0 {
		pos.Line, pos.Col = line, 1
	}
	// This one comes without a line: find the first use of the anchor.
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok && pos.Line == 0 {
		name, _, _ = strings.Cut(name, "'")
		if i := bytes.Index(f.Data, []byte("*"+name)); i >= 0 {
			pos = offsetPos(f, i)
		}
	}
	if col := indentTab(f.Data, pos.Line); col > 0 {
		pos.Col = col
		return fileFinding(pos, "a tab in the indentation; YAML indents with spaces")
	}
	return fileFinding(pos, "invalid YAML: "+msg)
}

// problemLine asks a second YAML parser where a syntax error is. The decoder's parser names the
// line where the enclosing block starts ("did not find expected key" at the top of a mapping);
// go.yaml.in/yaml/v2 names the line of the problem. Used only when both report the same error.
func problemLine(data []byte, msg string) int {
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if err == nil {
			continue
		}
		rest, ok := strings.CutPrefix(err.Error(), "yaml: line ")
		if !ok {
			return 0
		}
		n, m, ok := strings.Cut(rest, ": ")
		line, convErr := strconv.Atoi(n)
		if !ok || convErr != nil || m != msg {
			return 0
		}
		return line
	}
}

// indentTab returns the column of a tab in the leading white space of a line, 0 if none.
func indentTab(data []byte, line int) int {
	if line < 1 {
		return 0
	}
	lines := bytes.SplitN(data, []byte("\n"), line+1)
	if len(lines) < line {
		return 0
	}
	for i, c := range lines[line-1] {
		switch c {
		case '\t':
			return i + 1
		case ' ':
			continue
		}
		break
	}
	return 0
}
