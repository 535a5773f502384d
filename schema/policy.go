package schema

import (
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// istioKinds are Istio kinds the schemas do not model: refused as "not supported yet" rather
// than as foreign documents.
var istioKinds = map[string]bool{
	"WorkloadGroup": true, "EnvoyFilter": true, "ProxyConfig": true,
	"Telemetry": true, "WasmPlugin": true, "ServiceEntryGroup": true,
}

// policy loads one document that decoded to a mapping. It returns the document when it is
// valid, and its findings either way.
func (l *loader) policy(file string, st *ast.StructLit) (*Document, []Finding) {
	h := readHeader(st)
	doc := &Document{APIVersion: h.apiVersion, Kind: h.kind, Name: h.name, Namespace: h.namespace}
	if doc.Namespace == "" {
		doc.Namespace = "default"
	}
	s := newDocState(file, doc)
	doc.Pos = s.pos(st.Pos())
	if len(st.Elts) > 0 {
		if f, ok := st.Elts[0].(*ast.Field); ok {
			doc.Pos = s.pos(f.Label.Pos())
		}
	}

	ks := l.v.kinds[h.kind]
	if h.kind == KindService && h.apiVersion != "" && h.apiVersion != KubernetesServiceAPIVersion {
		// Another group's Service (Knative's serving.knative.dev/v1) is a foreign kind; one
		// without apiVersion is checked as Kubernetes', whose schema then asks for it.
		ks = nil
	}
	// Kubernetes manifests often live beside policies; the flag that skips them is named.
	skipHint := " (--ignore-unknown skips documents of other kinds)"
	if l.opts.IgnoreUnknown {
		// Only an unknown kind of the groups signalbox compiles gets here with the flag set.
		skipHint = ", and --ignore-unknown does not skip an unknown kind of networking.istio.io or security.istio.io: is it misspelt?"
	}
	if l.opts.IgnoreUnknown && ks == nil && !istioKinds[h.kind] && !isIstioAPIVersion(h.apiVersion) {
		return nil, nil
	}
	if l.opts.IgnoreUnknown && ks == nil && h.kindIsString && h.kind != "" && skippableIstioKind(h) {
		// Asked to skip what it does not compile, signalbox still says so: in Istio these
		// documents would change what proxies do.
		s.warn(s.pos(h.kindNode.Pos()), "kind "+h.kind+" is not compiled by signalbox: skipped (--ignore-unknown), so no proxy applies it")
		return nil, s.findings
	}
	switch {
	case h.kindNode == nil:
		s.report(doc.Pos, "", "not a policy document (no kind)")
	case !h.kindIsString:
		s.report(s.pos(h.kindNode.Pos()), "kind", "must be a string, got "+describe(h.kindNode))
	case istioKinds[h.kind]:
		s.report(s.pos(h.kindNode.Pos()), "", "kind "+h.kind+" is not supported yet (--ignore-unknown skips it with a warning)")
	case ks == nil && h.apiVersion != "":
		s.report(s.pos(h.kindNode.Pos()), "", "kind "+h.kind+" ("+h.apiVersion+") is not an Istio traffic policy"+skipHint)
	case ks == nil:
		s.report(s.pos(h.kindNode.Pos()), "", "kind "+h.kind+" is not an Istio traffic policy"+skipHint)
	}
	if ks == nil {
		return nil, s.findings
	}
	l.claim(s, h)

	s.walk(st, ks.shape, "", 0)
	if s.tooDeep {
		return nil, s.findings
	}
	if len(s.findings) > 0 || !l.v.fastValid(st, ks.shape) {
		// Only CUE's full evaluation names what is wrong.
		val := l.v.ctx.BuildExpr(st)
		if err := val.Err(); err != nil {
			s.reportCUE(err, st, ks.shape, l.v.patterns)
			return nil, s.findings
		}
		if err := ks.def.Unify(val).Validate(cue.Concrete(true)); err != nil {
			s.reportCUE(err, st, ks.shape, l.v.patterns)
		}
	}
	if doc.Kind == KindPeerAuthentication {
		checkPortKeys(s, mapKeys(st, "spec", "portLevelMtls"), "spec.portLevelMtls")
	}
	schemaOK := len(s.findings) == 0
	if err := decodeDocument(doc, st); err != nil && schemaOK {
		s.report(doc.Pos, "", "cannot decode: "+err.Error())
		return nil, s.findings
	}
	// The rules in Go run on an invalid document too, so that one mistake does not hide
	// another; a value the schema refused decodes as its zero value, so their findings about
	// places already reported are left out.
	s.settled = !schemaOK
	check(s)
	if len(s.findings) > 0 {
		return nil, s.findings
	}
	return doc, nil
}

// header is what identifies a document, read from its syntax before validation so that even an
// invalid document's findings can name it.
type header struct {
	apiVersion, kind, name, namespace string
	kindNode                          ast.Expr
	kindIsString                      bool
}

func readHeader(st *ast.StructLit) header {
	var h header
	h.apiVersion, _ = stringField(st, "apiVersion")
	h.kind, h.kindIsString = stringField(st, "kind")
	h.kindNode = field(st, "kind")
	if md, ok := field(st, "metadata").(*ast.StructLit); ok {
		h.name, _ = stringField(md, "name")
		h.namespace, _ = stringField(md, "namespace")
	}
	return h
}

// field returns the value of the first field called name, nil when there is none.
func field(st *ast.StructLit, name string) ast.Expr {
	for _, d := range st.Elts {
		if f, ok := d.(*ast.Field); ok {
			if n, _, err := ast.LabelName(f.Label); err == nil && n == name {
				return f.Value
			}
		}
	}
	return nil
}

func stringField(st *ast.StructLit, name string) (string, bool) {
	lit, ok := field(st, name).(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := literal.Unquote(lit.Value)
	return s, err == nil
}

// mapKeys returns the keys of the mapping at the path of field names, nil when there is none.
func mapKeys(st *ast.StructLit, path ...string) []string {
	for _, name := range path {
		next, ok := field(st, name).(*ast.StructLit)
		if !ok {
			return nil
		}
		st = next
	}
	var keys []string
	for _, d := range st.Elts {
		if f, ok := d.(*ast.Field); ok {
			if n, _, err := ast.LabelName(f.Label); err == nil {
				keys = append(keys, n)
			}
		}
	}
	return keys
}

// skippableIstioKind reports whether --ignore-unknown may skip an Istio document the schemas do
// not model: a kind signalbox knows it does not compile, or any kind of an Istio API group other
// than the two it compiles (telemetry.istio.io, extensions.istio.io, install.istio.io's IstioOperator…).
// An unknown kind of networking.istio.io or security.istio.io stays an error: it is more likely
// a misspelt VirtualService than a resource to leave out.
func skippableIstioKind(h header) bool {
	if istioKinds[h.kind] {
		return true
	}
	group, _, _ := strings.Cut(h.apiVersion, "/")
	return isIstioAPIVersion(h.apiVersion) && group != "networking.istio.io" && group != "security.istio.io"
}

// isIstioAPIVersion says whether an apiVersion is of an Istio API group (*.istio.io).
func isIstioAPIVersion(v string) bool {
	group, _, _ := strings.Cut(v, "/")
	return group == "istio.io" || strings.HasSuffix(group, ".istio.io")
}
