package schema

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// SettingsFile is the path, relative to the policy root, of the project settings: not a policy.
const SettingsFile = "signalbox.yaml"

// Load decodes and validates every file of a policy tree: *.yaml and *.yml files (several
// documents each), *.cue files, and the settings in signalbox.yaml. Files with other extensions
// are ignored. It returns the valid documents, sorted by kind, namespace and name, and the
// findings sorted by position. An invalid document is left out of the tree and reported; the
// caller must not compile a tree whose findings hold an error.
func Load(files []File) (*Tree, []Finding) {
	v := theValidator()
	v.mu.Lock()
	defer v.mu.Unlock()

	l := &loader{v: v, seen: map[string]Pos{}}
	l.tree.Settings = Settings{SidecarListener: DefaultSidecarListener}
	files = slices.Clone(files)
	slices.SortStableFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		l.file(f)
	}
	slices.SortFunc(l.tree.Documents, func(a, b *Document) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	sortFindings(l.findings)
	return &l.tree, l.findings
}

// loader is one Load call.
type loader struct {
	v        *validator
	tree     Tree
	findings []Finding
	// seen maps kind/namespace/name to where it was first defined, to refuse a second definition.
	seen map[string]Pos
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
			l.tree.Documents = append(l.tree.Documents, doc)
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
	l.findings = append(l.findings, fileFinding(posAt(file, x.Pos()), "not a policy document ("+what+", not a mapping)"))
}

// claim records the identity of a document, or marks it a duplicate of an earlier one.
func (l *loader) claim(s *docState, h header) {
	if h.name == "" {
		return
	}
	key := s.doc.Kind + " " + s.doc.Namespace + "/" + s.doc.Name
	if first, ok := l.seen[key]; ok {
		s.findings = append(s.findings, Finding{Pos: s.doc.Pos, Severity: SeverityError,
			Kind: s.doc.Kind, Namespace: s.doc.Namespace, Name: s.doc.Name,
			Message: "duplicate " + key + ", first defined at " + first.String()})
		return
	}
	l.seen[key] = s.doc.Pos
}

func fileFinding(pos Pos, msg string) Finding {
	return Finding{Pos: pos, Severity: SeverityError, Message: msg}
}

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col - b.Pos.Col
		}
		return strings.Compare(a.Message, b.Message)
	})
}
