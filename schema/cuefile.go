package schema

import (
	"fmt"
	"strconv"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// cueFile loads a *.cue file that evaluates to policy documents: one document (a struct with a
// kind), a list of documents, or a struct whose fields are documents. Each file is evaluated on
// its own: imports, and packages spread over several files, are not supported yet. Every
// document is then exported to syntax and loaded like a YAML one, so the same schema judges it.
func (l *loader) cueFile(f File) {
	if bad := checkText(f); bad != nil {
		l.findings = append(l.findings, *bad)
		return
	}
	file, err := parser.ParseFile(f.Path, f.Data)
	if err != nil {
		l.cueErrors(f.Path, nil, err)
		return
	}
	for spec := range file.ImportSpecs() {
		l.findings = append(l.findings, fileFinding(cuePos(f.Path, spec.Pos()), "imports in CUE policy files are not supported yet"))
		return
	}
	// A context of its own: the shared one would keep the whole file (BuildFile retains it),
	// and the documents are rebuilt there from their syntax anyway.
	root := cuecontext.New().BuildFile(file)
	if err := root.Err(); err != nil {
		l.cueErrors(f.Path, file, err)
		return
	}
	for _, v := range cueDocuments(root) {
		if err := v.Validate(cue.Concrete(true), cue.Final()); err != nil {
			l.cueErrors(f.Path, file, err)
			continue
		}
		if v.Kind() != cue.StructKind {
			l.findings = append(l.findings, fileFinding(cuePos(f.Path, v.Pos()), "not a policy document (not a struct)"))
			continue
		}
		budget := MaxCUEValues
		x := syntaxOf(v, 0, &budget)
		if budget < 0 {
			l.findings = append(l.findings, fileFinding(cuePos(f.Path, x.Pos()), fmt.Sprintf(
				"the document has more than %d values (the limit)", MaxCUEValues)))
			continue
		}
		l.document(f.Path, x)
	}
}

// cueDocuments splits the value of a CUE file into its documents.
func cueDocuments(root cue.Value) []cue.Value {
	switch root.Kind() {
	case cue.ListKind:
		var docs []cue.Value
		it, _ := root.List()
		for it.Next() {
			docs = append(docs, it.Value())
		}
		return docs
	case cue.StructKind:
		if root.LookupPath(cue.MakePath(cue.Str("kind"))).Exists() {
			return []cue.Value{root}
		}
		var docs []cue.Value
		it, _ := root.Fields()
		for it.Next() {
			docs = append(docs, it.Value())
		}
		return docs
	}
	return []cue.Value{root}
}

// syntaxOf exports a concrete value as the syntax the YAML decoder would have produced, with the
// position of each value in the CUE file (Value.Syntax drops them). It stops below MaxDepth+1
// levels (the loader refuses the document there anyway) and when the budget of values runs out:
// CUE shares the values a document references, so a small file can stand for a huge tree.
func syntaxOf(v cue.Value, depth int, budget *int) ast.Expr {
	pos := v.Pos()
	if *budget--; *budget < 0 {
		return ast.NewNull()
	}
	switch v.Kind() {
	case cue.StructKind:
		st := &ast.StructLit{Lbrace: pos}
		it, err := v.Fields()
		for err == nil && depth <= MaxDepth && *budget >= 0 && it.Next() {
			label := ast.NewString(it.Selector().Unquoted())
			label.ValuePos = it.Value().Pos()
			st.Elts = append(st.Elts, &ast.Field{Label: label, Value: syntaxOf(it.Value(), depth+1, budget)})
		}
		return st
	case cue.ListKind:
		l := &ast.ListLit{Lbrack: pos}
		it, err := v.List()
		for err == nil && depth <= MaxDepth && *budget >= 0 && it.Next() {
			l.Elts = append(l.Elts, syntaxOf(it.Value(), depth+1, budget))
		}
		return l
	}
	x, ok := v.Syntax(cue.Final(), cue.Concrete(true)).(ast.Expr)
	if !ok {
		x = ast.NewNull()
	}
	ast.SetPos(x, pos)
	return x
}

// cueFilePath writes a path inside a CUE file the way field paths are written: [0].spec.host.
func cueFilePath(elems []string) string {
	p := ""
	for _, el := range elems {
		if _, err := strconv.Atoi(el); err == nil {
			p += "[" + el + "]"
		} else {
			p = joinKey(p, el)
		}
	}
	return p
}

// cueErrors reports errors of parsing (syntax nil) or evaluating a CUE file at their place in
// that file: the first position the error names there; else, as CUE names none for some errors
// (a structural cycle, a reference left incomplete), where the field the error is about is
// written; else the file's start. Every finding has a line and a column.
func (l *loader) cueErrors(file string, syntax *ast.File, err error) {
	for _, e := range errors.Errors(err) {
		var at token.Pos
		for _, p := range errors.Positions(e) {
			if p.Filename() == file {
				at = p
				break
			}
		}
		if !at.IsValid() && syntax != nil {
			at = fieldPos(syntax, e.Path())
		}
		pos := cuePos(file, at)
		format, args := e.Msg()
		msg := sprintf(format, args...)
		if format == "incomplete value %v" && len(args) == 1 {
			msg = fmt.Sprintf("must be a concrete value, got %v", args[0])
		}
		if path := e.Path(); len(path) > 0 {
			msg = cueFilePath(path) + ": " + msg
		}
		l.findings = append(l.findings, fileFinding(pos, msg))
	}
}

// cuePos is the position of p in a CUE file, the file's start when p is not known.
func cuePos(file string, p token.Pos) Pos {
	if !p.IsValid() {
		return Pos{File: file, Line: 1, Col: 1}
	}
	return posAt(file, p)
}

// fieldPos finds where the value at path (labels and list indexes, as CUE errors give it) is
// written in a CUE file: the value of the field the path names or, when the path goes on
// through something not written there (a reference, a comprehension), of the deepest field it
// reaches. It returns an invalid position when the path's first step is not found.
func fieldPos(file *ast.File, path []string) token.Pos {
	var at token.Pos
	var node ast.Node = file
	for _, sel := range path {
		next := step(node, sel)
		if next == nil {
			break
		}
		at, node = next.Pos(), next
	}
	return at
}

// step returns the value of the field sel (a label, or a list index) of a struct, list or file,
// looking through parentheses, embeddings and unifications; nil when there is none.
func step(n ast.Node, sel string) ast.Expr {
	switch n := n.(type) {
	case *ast.File:
		return stepDecls(n.Decls, sel)
	case *ast.StructLit:
		return stepDecls(n.Elts, sel)
	case *ast.ParenExpr:
		return step(n.X, sel)
	case *ast.BinaryExpr:
		if n.Op == token.AND {
			if x := step(n.X, sel); x != nil {
				return x
			}
			return step(n.Y, sel)
		}
	case *ast.ListLit:
		i, err := strconv.Atoi(sel)
		if err != nil || i < 0 || i >= len(n.Elts) {
			return nil
		}
		if _, ok := n.Elts[i].(*ast.Ellipsis); ok {
			return nil
		}
		return n.Elts[i]
	}
	return nil
}

func stepDecls(decls []ast.Decl, sel string) ast.Expr {
	if name, err := strconv.Unquote(sel); err == nil {
		sel = name
	}
	for _, d := range decls {
		switch d := d.(type) {
		case *ast.Field:
			if name, _, err := ast.LabelName(d.Label); err == nil && name == sel {
				return d.Value
			}
		case *ast.EmbedDecl:
			if x := step(d.Expr, sel); x != nil {
				return x
			}
		}
	}
	return nil
}
