package schema

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// reportCUE turns the errors CUE found in one document into findings. CUE's messages are
// rewritten into short sentences ("must be >= 0, got -5"); positions come from the document,
// because errors of cross-field rules only carry the schema's.
func (s *docState) reportCUE(err error, root ast.Expr, sh *shape, patterns map[string]string) {
	for _, e := range errors.Errors(err) {
		node, path := lookupNode(root, cuePath(e.Path()))
		format, args := e.Msg()
		reason, aboutKey := humanize(format, args, node, sh.at(path), patterns)
		pos := s.doc.PosOf(path)
		if aboutKey {
			pos = s.keyPos(path)
		} else if node == nil {
			// Not a field of the document (a required one, or a path CUE wrote without list
			// indices): CUE's own position in the document is better, when it has one.
			for _, p := range errors.Positions(e) {
				if p.Filename() == s.file {
					pos = s.pos(p)
					break
				}
			}
		}
		s.report(pos, path, reason)
	}
}

// cuePath turns the path of a CUE error into the path of the document field it is about: it
// drops the definition the document was unified with ("#VirtualService") and the _errors
// structs where the schema's cross-field rules put their errors (see schemas/common.cue).
func cuePath(p []string) []string {
	for len(p) > 0 && strings.HasPrefix(p[0], "#") {
		p = p[1:]
	}
	out := p[:0:0]
	for _, el := range p {
		if el != "_errors" {
			out = append(out, el)
		}
	}
	return out
}

// lookupNode follows a CUE error path through the document, returning the node there (nil when
// the document has nothing there, e.g. a required field) and the path in field-path syntax,
// which needs the document to tell a list index from a mapping key.
func lookupNode(root ast.Expr, elems []string) (ast.Expr, string) {
	node, path := root, ""
	for _, el := range elems {
		if len(el) > 1 && el[0] == '"' {
			if u, err := literal.Unquote(el); err == nil {
				el = u
			}
		}
		var next ast.Expr
		switch n := node.(type) {
		case *ast.ListLit:
			if i, err := strconv.Atoi(el); err == nil {
				path += "[" + el + "]"
				if i >= 0 && i < len(n.Elts) {
					next = n.Elts[i]
				}
				node = next
				continue
			}
		case *ast.StructLit:
			for _, d := range n.Elts {
				if f, ok := d.(*ast.Field); ok {
					if name, _, err := ast.LabelName(f.Label); err == nil && name == el {
						next = f.Value
					}
				}
			}
		}
		path = joinKey(path, el)
		node = next
	}
	return node, path
}

// at returns the shape at a field path, nil when unknown.
func (s *shape) at(path string) *shape {
	sh := s
	for _, el := range splitPath(path) {
		if sh == nil {
			return nil
		}
		if strings.HasPrefix(el, "[") {
			if sh.any {
				continue
			}
			sh = sh.elem
			continue
		}
		sh = sh.field(el)
	}
	return sh
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '.':
			if i > start {
				out = append(out, p[start:i])
			}
			start = i + 1
		case '[':
			if i > start {
				out = append(out, p[start:i])
			}
			start = i
		case ']':
			out = append(out, p[start:i+1])
			start = i + 1
		}
	}
	if start < len(p) {
		out = append(out, p[start:])
	}
	return out
}

// humanize rewrites one CUE error message. aboutKey says the error is about the field itself
// rather than its value, so it points at the key.
func humanize(format string, args []any, node ast.Expr, sh *shape, patterns map[string]string) (reason string, aboutKey bool) {
	raw := sprintf(format, args...)
	switch {
	case format == "field is required but not present":
		return "is required", false
	case format == "field not allowed":
		return "unknown field", true
	case strings.HasPrefix(format, "invalid value %v (out of bound %s)") && len(args) == 2:
		got, bound := fmt.Sprint(args[0]), fmt.Sprint(args[1])
		if re, ok := strings.CutPrefix(bound, "=~"); ok {
			if u, err := literal.Unquote(re); err == nil {
				if msg, ok := patterns[u]; ok {
					return msg + ", got " + got, false
				}
			}
			return "must match " + re + ", got " + got, false
		}
		return "must be " + spaceOp(bound) + ", got " + got, false
	case strings.HasPrefix(format, "conflicting values %s and %s (mismatched types %s and %s)") && len(args) == 4:
		want := fmt.Sprint(args[3])
		if have := nodeKind(node); have != "" && have == want {
			want = fmt.Sprint(args[2])
		}
		if len(sh.enumOrNil()) > 0 {
			return enumReason(sh, node), false
		}
		if msg := patternMessage(sh, patterns); msg != "" && want == "string" {
			// A bare number where a duration is written ("timeout: 2"): say what is wanted.
			return msg + ", got " + describe(node), false
		}
		return "must be " + kindNoun(want) + ", got " + describe(node), false
	case strings.HasSuffix(format, "errors in empty disjunction:"), strings.HasPrefix(format, "conflicting values"):
		if len(sh.enumOrNil()) > 0 {
			return enumReason(sh, node), false
		}
	case strings.HasPrefix(format, "incompatible list lengths"):
		if l, ok := node.(*ast.ListLit); ok && len(l.Elts) == 0 {
			return "must not be empty", false
		}
	}
	return raw, false
}

// patternMessage is the message the schema gives for the first pattern of a string field that
// has one (its @error), "" when it has none.
func patternMessage(sh *shape, patterns map[string]string) string {
	if sh == nil || sh.str == nil {
		return ""
	}
	for _, re := range sh.str.patterns {
		if msg, ok := patterns[re.String()]; ok {
			return msg
		}
	}
	return ""
}

func (s *shape) enumOrNil() []string {
	if s == nil {
		return nil
	}
	return s.enum
}

func enumReason(sh *shape, node ast.Expr) string {
	return "must be one of " + strings.Join(sh.enum, ", ") + ", got " + describe(node)
}

// spaceOp writes a CUE bound the way people write it: ">=0" -> ">= 0".
func spaceOp(bound string) string {
	for _, op := range []string{">=", "<=", "!=", ">", "<"} {
		if v, ok := strings.CutPrefix(bound, op); ok {
			return op + " " + v
		}
	}
	return bound
}

// nodeKind names the CUE kind of a decoded YAML value, as CUE's messages do.
func nodeKind(n ast.Expr) string {
	switch n := n.(type) {
	case *ast.StructLit:
		return "struct"
	case *ast.ListLit:
		return "list"
	case *ast.UnaryExpr:
		return nodeKind(n.X)
	case *ast.BasicLit:
		switch n.Kind {
		case token.STRING:
			return "string"
		case token.INT:
			return "int"
		case token.FLOAT:
			return "float"
		case token.NULL:
			return "null"
		case token.TRUE, token.FALSE:
			return "bool"
		}
	case *ast.Ident:
		if n.Name == "true" || n.Name == "false" {
			return "bool"
		}
	}
	return ""
}

func kindNoun(k string) string {
	switch k {
	case "struct":
		return "a mapping"
	case "list":
		return "a list"
	case "string":
		return "a string"
	case "int":
		return "an integer"
	case "float", "number", "int|float":
		return "a number"
	case "bool":
		return "true or false"
	case "null":
		return "null"
	}
	return k
}

// describe shows a value in a message: scalars as written, mappings and lists by their kind.
func describe(n ast.Expr) string {
	switch n := n.(type) {
	case nil:
		return "nothing"
	case *ast.StructLit:
		return "a mapping"
	case *ast.ListLit:
		return "a list"
	case *ast.BasicLit:
		if n.Kind == token.STRING {
			if u, err := literal.Unquote(n.Value); err == nil {
				return strconv.Quote(u)
			}
		}
		return n.Value
	case *ast.UnaryExpr:
		return n.Op.String() + describe(n.X)
	case *ast.Ident:
		return n.Name
	}
	return kindNoun(nodeKind(n))
}

// sprintf formats a CUE message; CUE's arguments print themselves in CUE syntax.
func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
