package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"
)

//go:embed schemas/*.cue
var schemaFiles embed.FS

// validator holds the one CUE context and the schema compiled in it. Building every document in
// the same context with BuildExpr (not BuildFile, which retains each document) keeps a tree of
// thousands of documents in a few MiB. A cue.Context is not safe for concurrent use, hence mu.
type validator struct {
	mu  sync.Mutex
	ctx *cue.Context
	// kinds holds the schema of each policy kind, by its Istio kind name.
	kinds    map[string]*kindSchema
	settings *kindSchema
	// patterns maps the regular expression of a pattern definition to the message of its
	// @error attribute, so a value failing it reads as a sentence rather than a regex.
	patterns map[string]string
}

// kindSchema is the CUE definition of one kind and the shape of the fields it declares.
type kindSchema struct {
	def   cue.Value
	shape *shape
}

// kindDefinitions maps each policy kind to its definition in schemas/.
var kindDefinitions = map[string]string{
	KindVirtualService:  "#VirtualService",
	KindDestinationRule: "#DestinationRule",
	KindServiceEntry:    "#ServiceEntry",
	KindGateway:         "#Gateway",
}

// theValidator compiles the embedded schema on first use. The schema is part of the program, so
// a schema that does not compile is a bug: it panics, and the tests catch it.
var theValidator = sync.OnceValue(func() *validator {
	v, err := newValidator()
	if err != nil {
		panic(err)
	}
	return v
})

func newValidator() (*validator, error) {
	ctx := cuecontext.New()
	inst := build.NewContext().NewInstance("schemas", nil)
	names, err := fs.Glob(schemaFiles, "schemas/*.cue")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		src, err := schemaFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(name, src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("schema: %v", err)
		}
		if err := inst.AddSyntax(f); err != nil {
			return nil, fmt.Errorf("schema: %v", err)
		}
	}
	root := ctx.BuildInstance(inst)
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("schema: %v", err)
	}
	v := &validator{ctx: ctx, kinds: map[string]*kindSchema{}, patterns: patternMessages(root)}
	for kind, def := range kindDefinitions {
		ks, err := lookupKind(root, def)
		if err != nil {
			return nil, err
		}
		v.kinds[kind] = ks
	}
	if v.settings, err = lookupKind(root, "#Settings"); err != nil {
		return nil, err
	}
	return v, nil
}

func lookupKind(root cue.Value, def string) (*kindSchema, error) {
	d := root.LookupPath(cue.ParsePath(def))
	if err := d.Validate(); err != nil || !d.Exists() {
		return nil, fmt.Errorf("schema: %s: %v", def, err)
	}
	ks := &kindSchema{def: d, shape: shapeOf(d, 0)}
	if err := ks.shape.check(); err != nil {
		return nil, fmt.Errorf("schema: %s: %v", def, err)
	}
	return ks, nil
}

// patternMessages collects the @error(message) attributes of the schema's definitions, keyed by
// the regular expression the definition holds (`#Host: string & =~"..." @error(...)`).
func patternMessages(root cue.Value) map[string]string {
	m := map[string]string{}
	it, err := root.Fields(cue.Definitions(true))
	if err != nil {
		return m
	}
	for it.Next() {
		a := it.Value().Attribute("error")
		if a.Err() != nil {
			continue
		}
		if re, ok := regexOf(it.Value()); ok {
			m[re] = a.Contents()
		}
	}
	return m
}

// regexOf finds the =~ pattern of a value such as `string & =~"^a+$"`.
func regexOf(v cue.Value) (string, bool) {
	op, args := v.Expr()
	switch op {
	case cue.AndOp:
		for _, a := range args {
			if re, ok := regexOf(a); ok {
				return re, true
			}
		}
	case cue.RegexMatchOp:
		if len(args) == 1 {
			re, err := args[0].String()
			return re, err == nil
		}
	}
	return "", false
}
