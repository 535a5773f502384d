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

// validator holds a CUE context and the schema compiled in it. Building every document in the
// same context with BuildExpr (not BuildFile, which retains each document) keeps a tree of
// thousands of documents in a few MiB. A cue.Context is not safe for concurrent use: each
// goroutine that validates takes a validator of its own from the pool (getValidator).
type validator struct {
	ctx *cue.Context
	// kinds holds the schema of each policy kind, by its Istio kind name.
	kinds    map[string]*kindSchema
	settings *kindSchema
	// leafMemo remembers the verdicts of the fast path (fastpath.go).
	leafMemo map[leafKey]bool
	// patterns maps the regular expression of a pattern definition to the message of its
	// @error attribute, so a value failing it reads as a sentence rather than a regex.
	patterns map[string]string
}

// kindSchema is the CUE definition of one kind and the shape of the fields it declares.
type kindSchema struct {
	def   cue.Value
	shape *shape
}

// policyKinds is the one list of policy kinds: each kind's definition in schemas/ and the typed
// struct its spec decodes into.
var policyKinds = map[string]struct {
	definition string
	newSpec    func() any
}{
	KindVirtualService:  {"#VirtualService", func() any { return new(VirtualService) }},
	KindDestinationRule: {"#DestinationRule", func() any { return new(DestinationRule) }},
	KindServiceEntry:    {"#ServiceEntry", func() any { return new(ServiceEntry) }},
	KindGateway:         {"#Gateway", func() any { return new(Gateway) }},
	KindWorkloadEntry:   {"#WorkloadEntry", func() any { return new(WorkloadEntry) }},
	KindSidecar:         {"#Sidecar", func() any { return new(Sidecar) }},
	KindService:         {"#Service", func() any { return new(KubernetesService) }},

	KindPeerAuthentication:    {"#PeerAuthentication", func() any { return new(PeerAuthentication) }},
	KindAuthorizationPolicy:   {"#AuthorizationPolicy", func() any { return new(AuthorizationPolicy) }},
	KindRequestAuthentication: {"#RequestAuthentication", func() any { return new(RequestAuthentication) }},
}

// maxValidators bounds the validators (and so the goroutines validating files) of the process.
const maxValidators = 8

// validatorPool holds the validators not in use; made counts all that exist.
var validatorPool struct {
	sync.Mutex
	free []*validator
	made int
	cond *sync.Cond
}

// getValidator takes a validator from the pool, compiling a new one while fewer than
// maxValidators exist, and waiting for one otherwise. The schema is part of the program, so a
// schema that does not compile is a bug: it panics, and the tests catch it.
func getValidator() *validator {
	p := &validatorPool
	p.Lock()
	defer p.Unlock()
	if p.cond == nil {
		p.cond = sync.NewCond(&p.Mutex)
	}
	for {
		if n := len(p.free); n > 0 {
			v := p.free[n-1]
			p.free = p.free[:n-1]
			return v
		}
		if p.made < maxValidators {
			p.made++
			p.Unlock()
			v, err := newValidator()
			p.Lock()
			if err != nil {
				p.made--
				panic(err)
			}
			return v
		}
		p.cond.Wait()
	}
}

func putValidator(v *validator) {
	p := &validatorPool
	p.Lock()
	p.free = append(p.free, v)
	p.Unlock()
	p.cond.Signal()
}

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
	v := &validator{ctx: ctx, kinds: map[string]*kindSchema{}, patterns: patternMessages(root), leafMemo: map[leafKey]bool{}}
	for kind, k := range policyKinds {
		ks, err := lookupKind(root, k.definition)
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
