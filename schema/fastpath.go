package schema

import (
	"regexp"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// The fast path. The schemas state only what one field can say on its own (rules across
// fields are Go checks), so a document is valid exactly when its structure fits the shape
// (known fields, required ones present, mappings, lists and scalars where the schema has them,
// non-empty lists where it wants them) and each scalar satisfies its field's CUE constraint.
// The walker checks the first two already; fastValid checks the rest, evaluating each
// scalar against its field's constraint alone, and remembers the verdict for each field and
// value: policy trees repeat values (ports, subset names, protocols) across documents. Only a
// document it cannot vouch for is unified with its whole definition, which is what names the
// problems. A test holds both paths to the same verdicts over every test document.

// maxLeafMemo bounds the remembered verdicts of one validator.
const maxLeafMemo = 200_000

// leafKey identifies a scalar checked against a field's constraint.
type leafKey struct {
	sh  *shape
	lit string
}

// fastValid reports whether the document at x certainly satisfies sh. It never reports a
// document valid that the full evaluation would refuse; it may send a valid one to it.
func (v *validator) fastValid(x ast.Expr, sh *shape) bool {
	if sh == nil {
		return false
	}
	if sh.any {
		return true
	}
	switch n := x.(type) {
	case *ast.StructLit:
		if sh.fields == nil && !sh.isMap {
			return false
		}
		for _, d := range n.Elts {
			f, ok := d.(*ast.Field)
			if !ok {
				return false
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				return false
			}
			fsh := sh.field(name)
			if fsh == nil || fsh.refused != "" || !v.fastValid(f.Value, fsh) {
				return false
			}
		}
		return true
	case *ast.ListLit:
		if sh.elem == nil || sh.isMap || sh.fields != nil && !sh.list {
			return false
		}
		if !sh.list || sh.nonEmpty && len(n.Elts) == 0 {
			return false
		}
		for _, e := range n.Elts {
			if !v.fastValid(e, sh.elem) {
				return false
			}
		}
		return true
	}
	return v.leafValid(x, sh)
}

// leafValid checks a scalar against the constraint of its field.
func (v *validator) leafValid(x ast.Expr, sh *shape) bool {
	lit, kind, ok := literalOf(x)
	if !ok || !sh.leaf.Exists() {
		return false
	}
	if sh.plain != cue.BottomKind {
		return sh.plain&kind != 0
	}
	if sh.str != nil {
		if kind != cue.StringKind {
			return false
		}
		v, err := literal.Unquote(lit)
		return err == nil && sh.str.ok(v)
	}
	if sh.kind&kind == 0 {
		return false
	}
	k := leafKey{sh, lit}
	if ok, seen := v.leafMemo[k]; seen {
		return ok
	}
	val := v.ctx.BuildExpr(x)
	valid := val.Err() == nil && sh.leaf.Unify(val).Validate(cue.Concrete(true)) == nil
	if len(v.leafMemo) >= maxLeafMemo {
		clear(v.leafMemo)
	}
	v.leafMemo[k] = valid
	return valid
}

// literalOf returns the text and kind of a scalar as the YAML decoder writes it.
func literalOf(x ast.Expr) (string, cue.Kind, bool) {
	switch n := x.(type) {
	case *ast.BasicLit:
		switch n.Kind {
		case token.STRING:
			return n.Value, cue.StringKind, true
		case token.INT:
			return n.Value, cue.IntKind, true
		case token.FLOAT:
			return n.Value, cue.FloatKind, true
		case token.TRUE, token.FALSE:
			return n.Value, cue.BoolKind, true
		case token.NULL:
			return n.Value, cue.NullKind, true
		}
	case *ast.Ident:
		if n.Name == "true" || n.Name == "false" {
			return n.Name, cue.BoolKind, true
		}
	case *ast.UnaryExpr:
		if n.Op == token.SUB {
			if lit, k, ok := literalOf(n.X); ok && k&cue.NumberKind != 0 {
				return "-" + lit, k, true
			}
		}
	}
	return "", cue.BottomKind, false
}

// plainKinds are the constraints a scalar can be checked against by its kind alone.
var plainKinds = []struct {
	src  string
	kind cue.Kind
}{{"string", cue.StringKind}, {"int", cue.IntKind}, {"number", cue.NumberKind}, {"bool", cue.BoolKind}}

// plainKind returns the kind of a constraint that says nothing but its kind (`string`),
// BottomKind for any other.
func plainKind(v cue.Value) cue.Kind {
	for _, p := range plainKinds {
		if v.IncompleteKind() != p.kind {
			continue
		}
		basic := v.Context().CompileString(p.src)
		if v.Subsume(basic, cue.Schema()) == nil {
			return p.kind
		}
	}
	return cue.BottomKind
}

// stringCheck is a string constraint the fast path checks in Go: an enumeration, or patterns
// and excluded values. CUE's =~ is Go's regexp, so the verdicts are the same.
type stringCheck struct {
	enum     map[string]bool
	patterns []*regexp.Regexp
	not      []string
}

func (c *stringCheck) ok(v string) bool {
	if c.enum != nil {
		return c.enum[v]
	}
	for _, re := range c.patterns {
		if !re.MatchString(v) {
			return false
		}
	}
	for _, n := range c.not {
		if v == n {
			return false
		}
	}
	return true
}

// stringCheckOf reads a string constraint made only of string literals (an enumeration), =~
// patterns and != exclusions; nil for any other.
func stringCheckOf(v cue.Value, enum []string) *stringCheck {
	if v.IncompleteKind() != cue.StringKind {
		return nil
	}
	if enum != nil {
		c := &stringCheck{enum: map[string]bool{}}
		for _, e := range enum {
			c.enum[e] = true
		}
		return c
	}
	x, ok := v.Syntax().(ast.Expr)
	if !ok {
		return nil
	}
	c := &stringCheck{}
	var read func(ast.Expr) bool
	read = func(x ast.Expr) bool {
		switch x := x.(type) {
		case *ast.BinaryExpr:
			return x.Op == token.AND && read(x.X) && read(x.Y)
		case *ast.UnaryExpr:
			lit, ok := x.X.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return false
			}
			s, err := literal.Unquote(lit.Value)
			if err != nil {
				return false
			}
			switch x.Op {
			case token.MAT:
				re, err := regexp.Compile(s)
				if err != nil {
					return false
				}
				c.patterns = append(c.patterns, re)
				return true
			case token.NEQ:
				c.not = append(c.not, s)
				return true
			}
		}
		return false
	}
	if !read(x) {
		return nil
	}
	return c
}
