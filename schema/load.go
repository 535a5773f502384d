package schema

import (
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// SettingsFile is the path, relative to the policy root, of the project settings: not a policy.
const SettingsFile = "signalbox.yaml"

// Options change how a tree is loaded. The zero value is what Load uses.
type Options struct {
	// IgnoreUnknown skips documents that are not Istio's (neither an istio.io apiVersion nor an
	// Istio kind, such as Kubernetes Deployments next to the policies) and documents that are
	// not mappings, instead of reporting each as an error.
	IgnoreUnknown bool
}

// Load decodes and validates every file of a policy tree with the default options; see
// LoadWithOptions.
func Load(files []File) (*Tree, []Finding) {
	return LoadWithOptions(files, Options{})
}

// LoadWithOptions decodes and validates every file of a policy tree: *.yaml and *.yml files
// (several documents each), *.cue files, and the settings in signalbox.yaml. Files with other
// extensions are ignored. It returns the valid documents, sorted by kind, namespace and name, and
// the findings sorted by position. An invalid document is left out of the tree and reported; the
// caller must not compile a tree whose findings hold an error.
//
// Each file is validated on its own, several at a time, and its result is kept in a cache keyed
// by the file's path and content: loading a tree again after one file changed validates that
// file only. Documents are shared between the trees that hold them and must not be modified.
func LoadWithOptions(files []File, opts Options) (*Tree, []Finding) {
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	opts = withSettings(files, opts)
	results := loadFiles(files, opts)

	tree := &Tree{Settings: Settings{SidecarListener: DefaultSidecarListener, TrustDomain: DefaultTrustDomain}}
	var findings []Finding
	// A kind, namespace and name is defined once in a tree: files are read in path order, and
	// the first definition wins.
	seen := map[string]Pos{}
	for _, r := range results {
		findings = append(findings, r.findings...)
		if r.settings != nil {
			tree.Settings = *r.settings
		}
		for _, d := range r.docs {
			if first, ok := seen[d.key]; ok {
				findings = append(findings, Finding{Pos: d.pos, Severity: SeverityError, Kind: d.kind,
					Namespace: d.namespace, Name: d.name,
					Message: "duplicate " + d.key + ", first defined at " + first.String()})
				continue
			}
			seen[d.key] = d.pos
			if d.doc != nil {
				tree.Documents = append(tree.Documents, d.doc)
			}
		}
	}
	slices.SortFunc(tree.Documents, func(a, b *Document) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	SortFindings(findings)
	return tree, findings
}

// withSettings adds to opts what the tree's signalbox.yaml asks of every load: with
// ignoreUnknown, the documents of other kinds are skipped without the flag. The settings file is
// loaded alone first (its result is cached like any file's); an invalid one is reported by the
// load of the whole tree and changes nothing.
func withSettings(files []File, opts Options) Options {
	if opts.IgnoreUnknown {
		return opts
	}
	i := slices.IndexFunc(files, func(f File) bool { return f.Path == SettingsFile })
	if i < 0 {
		return opts
	}
	if r := loadFiles(files[i:i+1], opts)[0]; r.settings != nil && r.settings.IgnoreUnknown {
		opts.IgnoreUnknown = true
	}
	return opts
}

// fileResult is what one file yields on its own: its documents in order (each with its
// identity, valid or not, so that duplicates across files are found), its findings, and the
// settings it sets.
type fileResult struct {
	docs     []fileDoc
	findings []Finding
	settings *Settings
}

// fileDoc is one named document of a file; doc is nil when the document is invalid.
type fileDoc struct {
	key                   string // "Kind namespace/name"
	pos                   Pos
	kind, namespace, name string
	doc                   *Document
}

// loadFiles validates files not in the cache, on up to GOMAXPROCS goroutines, each with a
// validator (a CUE context) of its own.
func loadFiles(files []File, opts Options) []*fileResult {
	results := make([]*fileResult, len(files))
	keys := make([]cacheKey, len(files))
	var todo []int
	for i, f := range files {
		keys[i] = keyOf(f, opts)
		if r, ok := theCache.get(keys[i]); ok {
			results[i] = r
			continue
		}
		todo = append(todo, i)
	}
	workers := min(runtime.GOMAXPROCS(0), maxValidators, len(todo))
	var next sync.Mutex
	pos := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := getValidator()
			defer putValidator(v)
			for {
				next.Lock()
				if pos == len(todo) {
					next.Unlock()
					return
				}
				i := todo[pos]
				pos++
				next.Unlock()
				r := loadFile(v, files[i], opts)
				theCache.put(keys[i], r)
				results[i] = r
			}
		}()
	}
	wg.Wait()
	return results
}

func loadFile(v *validator, f File, opts Options) *fileResult {
	l := &loader{v: v, opts: opts}
	l.file(f)
	return &l.fileResult
}

// loader loads one file.
type loader struct {
	v    *validator
	opts Options
	fileResult
}

func (l *loader) file(f File) {
	// The decoders and the evaluator are other people's code fed with untrusted input: a panic
	// there becomes a finding about this file, not a crash of the publisher.
	defer func() {
		if r := recover(); r != nil {
			l.findings = append(l.findings, fileFinding(Pos{File: f.Path}, fmt.Sprintf("cannot load this file: internal error: %v", r)))
		}
	}()
	if f.Path == SettingsFile {
		l.settingsFile(f)
		return
	}
	switch strings.ToLower(path.Ext(f.Path)) {
	case ".yaml", ".yml":
		l.yamlFile(f)
	case ".cue":
		l.cueFile(f)
	}
}

// document loads one decoded document: a mapping is a policy, null (an empty document) is
// skipped, anything else is refused.
func (l *loader) document(file string, x ast.Expr) {
	var what string
	switch n := x.(type) {
	case *ast.StructLit:
		doc, findings := l.policy(file, n)
		l.findings = append(l.findings, findings...)
		if doc != nil {
			if k := len(l.docs) - 1; k >= 0 && l.docs[k].doc == nil && l.docs[k].pos == doc.Pos {
				l.docs[k].doc = doc
			}
		}
		return
	case *ast.BasicLit:
		if n.Kind == token.NULL {
			return
		}
		what = "a single value"
	case *ast.BinaryExpr:
		return // an empty file decodes to `*null | _`
	case *ast.ListLit:
		what = "a list"
	default:
		what = "a single value"
	}
	if l.opts.IgnoreUnknown {
		return
	}
	l.findings = append(l.findings, fileFinding(posAt(file, x.Pos()), "not a policy document ("+what+", not a mapping)"))
}

// claim records the identity of a named document; LoadWithOptions refuses a second definition.
func (l *loader) claim(s *docState, h header) {
	if h.name == "" {
		return
	}
	d := s.doc
	l.docs = append(l.docs, fileDoc{key: d.Kind + " " + d.Namespace + "/" + d.Name, pos: d.Pos,
		kind: d.Kind, namespace: d.Namespace, name: d.Name})
}

func fileFinding(pos Pos, msg string) Finding {
	if pos.Line == 0 { // about the whole file: placed at its start, as every finding has a line
		pos.Line, pos.Col = 1, 1
	}
	return Finding{Pos: pos, Severity: SeverityError, Message: msg}
}
