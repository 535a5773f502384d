package schema

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// docState is one document while it is loaded: the Document being filled and its findings.
type docState struct {
	file string
	doc  *Document
	// keys holds the position of the key of each scalar field, where errors about the field
	// itself (unknown, not supported, repeated) point; doc.fields holds where its value starts,
	// which for a mapping or a list is its key.
	keys     map[string]Pos
	findings []Finding
	// reported marks the paths that have a finding: one finding a path is enough.
	reported map[string]bool
	tooDeep  bool
	// settled is set when the schema refused the document: Go rules then report only about
	// places unrelated to those already reported.
	settled bool
}

func newDocState(file string, doc *Document) *docState {
	doc.fields = map[string]Pos{}
	return &docState{file: file, doc: doc, keys: map[string]Pos{}, reported: map[string]bool{}}
}

// warn records a warning about the whole document: it does not block compilation.
func (s *docState) warn(pos Pos, reason string) {
	s.findings = append(s.findings, Finding{Pos: pos, Severity: SeverityWarning, Kind: s.doc.Kind,
		Namespace: s.doc.Namespace, Name: s.doc.Name, Message: reason})
}

// report adds an error finding about the field at path; the message is "path: reason".
func (s *docState) report(pos Pos, path, reason string) {
	if s.reported[path] || s.settled && s.related(path) {
		return
	}
	s.reported[path] = true
	msg := reason
	if path != "" {
		msg = path + ": " + reason
	}
	s.findings = append(s.findings, Finding{Pos: pos, Severity: SeverityError, Kind: s.doc.Kind,
		Namespace: s.doc.Namespace, Name: s.doc.Name, Path: path, Message: msg})
}

// related says whether path is, is inside, or holds a path already reported.
func (s *docState) related(path string) bool {
	for p := range s.reported {
		if p == "" || path == "" || p == path || within(path, p) || within(p, path) {
			return true
		}
	}
	return false
}

// within says whether path lies under the field at parent: "a.b[0].c" is within "a.b".
func within(path, parent string) bool {
	return strings.HasPrefix(path, parent) && len(path) > len(parent) && (path[len(parent)] == '.' || path[len(parent)] == '[')
}

// keyPos is where the key of the field at path is, or the nearest thing PosOf knows.
func (s *docState) keyPos(path string) Pos {
	if p, ok := s.keys[path]; ok {
		return p
	}
	return s.doc.PosOf(path)
}

func (s *docState) pos(p token.Pos) Pos {
	if !p.IsValid() && s.doc.Pos.Line > 0 {
		return s.doc.Pos
	}
	return posAt(s.file, p)
}

// posAt converts a position of the decoded syntax; a value without one (CUE can make those)
// is placed at the start of its file, so that every finding has a line and a column.
func posAt(file string, p token.Pos) Pos {
	if !p.IsValid() {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return Pos{File: file, Line: p.Line(), Col: p.Column()}
}

// walk goes through a decoded document along the shape its schema declares. It records the
// position of every field and list element, and reports (and removes, so CUE judges the rest)
// repeated keys, fields the schema does not declare and fields it refuses by name. A nil shape
// records positions only. It stops at MaxDepth.
func (s *docState) walk(x ast.Expr, sh *shape, path string, depth int) {
	switch n := x.(type) {
	case *ast.StructLit:
		if s.deep(n, path, depth) {
			return
		}
		if sh != nil && !sh.any && !sh.isMap && sh.fields == nil {
			sh = nil // not a mapping in the schema: CUE reports the type, nothing to check below
		}
		seen := map[string]Pos{}
		var nulled map[string]bool // made on first use: nulls are rare
		kept := n.Elts[:0]
		for _, decl := range n.Elts {
			f, ok := decl.(*ast.Field)
			if !ok {
				kept = append(kept, decl)
				continue
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				kept = append(kept, decl)
				continue
			}
			if camel, ok := protoName(sh, name); ok {
				// Istio reads a field by its proto name too (mirror_percent for mirrorPercent).
				lit := ast.NewString(camel)
				lit.ValuePos = f.Label.Pos()
				f.Label, name = lit, camel
			}
			p := joinKey(path, name)
			kpos := s.pos(f.Label.Pos())
			if first, dup := seen[name]; dup {
				s.report(kpos, p, fmt.Sprintf("duplicate key, first at line %d", first.Line))
				continue
			}
			seen[name] = kpos
			if isNull(f.Value) && sh != nil && !sh.any && !sh.isMap {
				// A declared field set to null is absent, as in Kubernetes and Istio
				// ("labels:" with nothing after it, as templates often write).
				if nulled == nil {
					nulled = map[string]bool{}
				}
				nulled[name] = true
				continue
			}
			s.doc.fields[p] = kpos
			if isScalar(f.Value) {
				// A scalar's field position is its value's; its key is kept apart.
				s.keys[p] = kpos
				s.doc.fields[p] = s.pos(f.Value.Pos())
			}
			var fsh *shape
			if sh != nil {
				if fsh = sh.field(name); fsh == nil {
					s.report(kpos, p, "unknown field")
					continue
				}
				if fsh.refused != "" {
					s.report(kpos, p, fsh.refused)
					continue
				}
			}
			s.walk(f.Value, fsh, p, depth+1)
			if s.tooDeep {
				return
			}
			kept = append(kept, f)
		}
		n.Elts = kept
		if sh != nil {
			// CUE reports a missing required field only when nothing else is wrong.
			for _, name := range sh.required {
				if _, ok := seen[name]; !ok || nulled[name] {
					s.report(s.doc.PosOf(path), joinKey(path, name), "is required")
				}
			}
		}
	case *ast.BasicLit:
		// The decoder writes a float without a fraction, such as an integer too large for
		// int64, as "number & 99999999999999999999", which is not a literal CUE can build.
		if v, ok := strings.CutPrefix(n.Value, "number & "); ok && n.Kind == token.FLOAT {
			n.Value = v + ".0"
		}
	case *ast.ListLit:
		if s.deep(n, path, depth) {
			return
		}
		var esh *shape
		if sh != nil {
			esh = sh.elem
			if sh.any {
				esh = sh
			}
		}
		for i, e := range n.Elts {
			p := path + "[" + strconv.Itoa(i) + "]"
			s.doc.fields[p] = s.pos(e.Pos())
			s.walk(e, esh, p, depth+1)
			if s.tooDeep {
				return
			}
		}
	}
}

func (s *docState) deep(n ast.Node, path string, depth int) bool {
	if depth < MaxDepth {
		return false
	}
	s.tooDeep = true
	s.report(s.pos(n.Pos()), path, fmt.Sprintf("nested deeper than %d levels (the limit)", MaxDepth))
	return true
}

func isScalar(x ast.Expr) bool {
	switch x.(type) {
	case *ast.StructLit, *ast.ListLit:
		return false
	}
	return true
}

// joinKey appends a mapping key to a field path: "spec" + "hosts" -> "spec.hosts".
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// protoName maps a field written with its proto name ("mirror_percent") to the JSON name the
// schema declares ("mirrorPercent"), as Istio's decoder accepts both.
func protoName(sh *shape, name string) (string, bool) {
	if sh == nil || sh.any || sh.isMap || !strings.Contains(name, "_") || sh.fields[name] != nil {
		return "", false
	}
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	camel := b.String()
	return camel, sh.fields[camel] != nil
}

func isNull(x ast.Expr) bool {
	lit, ok := x.(*ast.BasicLit)
	return ok && lit.Kind == token.NULL
}
