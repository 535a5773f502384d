package schema

import (
	"fmt"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// shape is what the schema declares at one place of a document, read once from the compiled
// CUE: the fields a mapping may have, the element of a list or map, the fields that are refused
// by name, the values of an enumeration. The loader walks each document along its shape before
// CUE sees it, so that every unknown or unsupported field is reported (CUE stops at the first
// error of a struct) and the rest of the document is still validated.
type shape struct {
	// any: the schema accepts anything here (`_`), nothing below is checked.
	any bool
	// refused is the reason a field declared as error("...") is refused, e.g. "not supported yet".
	refused string
	// fields are the declared fields of a mapping; required lists those marked with "!".
	fields   map[string]*shape
	required []string
	// elem is the element of a list or the value of a map with arbitrary keys.
	elem  *shape
	isMap bool
	// enum lists the values of a string enumeration ("STATIC" | "NONE").
	enum []string
	// broken says why the schema could not be read here: a bug in schemas/, see check.
	broken string

	// For the fast path (fastpath.go): list says the schema takes a list here, nonEmpty that
	// it wants at least one element; leaf is the constraint of a scalar field, kind the kinds
	// it allows, plain the kind when the constraint is that kind alone (BottomKind otherwise).
	list, nonEmpty bool
	leaf           cue.Value
	kind, plain    cue.Kind
	// str is the constraint of a string field when Go can check it (stringCheckOf).
	str *stringCheck
}

// maxShapeDepth stops the walk of a recursive schema; Istio's types used here are not recursive.
const maxShapeDepth = 32

func shapeOf(v cue.Value, depth int) *shape {
	s := &shape{}
	if err := v.Err(); err != nil {
		s.refused = errorMessage(err)
		return s
	}
	k := v.IncompleteKind()
	if k == cue.TopKind || depth > maxShapeDepth {
		s.any = true
		return s
	}
	s.enum = enumOf(v)
	if k&cue.StructKind != 0 {
		s.fields = map[string]*shape{}
		if it, err := v.Fields(cue.Optional(true)); err == nil {
			for it.Next() {
				name := it.Selector().Unquoted()
				s.fields[name] = shapeOf(it.Value(), depth+1)
				if it.Selector().ConstraintType() == cue.RequiredConstraint {
					s.required = append(s.required, name)
				}
			}
		}
		if p := v.LookupPath(cue.MakePath(cue.AnyString)); p.Exists() {
			s.elem, s.isMap = shapeOf(p, depth+1), true
		}
	}
	if k&(cue.StructKind|cue.ListKind) == 0 {
		s.leaf, s.kind, s.plain = v, k, plainKind(v)
		if s.plain == cue.BottomKind {
			s.str = stringCheckOf(v, s.enum)
		}
	}
	if k&cue.ListKind != 0 {
		s.list = true
		s.nonEmpty = v.Unify(v.Context().CompileString("[]")).Validate() != nil
		p := v.LookupPath(cue.MakePath(cue.AnyIndex))
		if !p.Exists() {
			// The element type did not evaluate on its own, typically a rule reading a
			// required field without checking it is there: its fields would go unchecked.
			s.broken = fmt.Sprintf("%v: the list element does not evaluate: %v", v.Path(), p.Err())
			return s
		}
		s.elem = shapeOf(p, depth+1)
	}
	return s
}

// check returns the first place where the shape could not be read from the schema.
func (s *shape) check() error {
	if s == nil {
		return nil
	}
	if s.broken != "" {
		return errors.New(s.broken)
	}
	for _, f := range s.fields {
		if err := f.check(); err != nil {
			return err
		}
	}
	return s.elem.check()
}

// enumOf returns the strings of a disjunction of string literals, nil for any other value. It
// reads the value's syntax, where a reference (#NetworkingAPIVersion) is already resolved.
func enumOf(v cue.Value) []string {
	x, ok := v.Syntax().(ast.Expr)
	if !ok {
		return nil
	}
	var out []string
	var collect func(ast.Expr) bool
	collect = func(x ast.Expr) bool {
		switch x := x.(type) {
		case *ast.BinaryExpr:
			return x.Op == token.OR && collect(x.X) && collect(x.Y)
		case *ast.BasicLit:
			s, err := literal.Unquote(x.Value)
			out = append(out, s)
			return x.Kind == token.STRING && err == nil
		}
		return false
	}
	if !collect(x) {
		return nil
	}
	return out
}

// field returns the shape of a field of a mapping, nil when the schema does not declare it.
func (s *shape) field(name string) *shape {
	switch {
	case s == nil:
		return nil
	case s.any:
		return s
	case s.isMap:
		return s.elem
	}
	return s.fields[name]
}

// errorMessage is the message of the first error, without its path.
func errorMessage(err error) string {
	for _, e := range errors.Errors(err) {
		f, args := e.Msg()
		return sprintf(f, args...)
	}
	return err.Error()
}
