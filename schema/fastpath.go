package schema

import (
	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
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
