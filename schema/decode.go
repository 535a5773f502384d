package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// decodeDocument fills the typed parts of a document that passed the schema. It converts the
// document's syntax to JSON and unmarshals that into the typed structs: about four times cheaper
// than decoding the evaluated CUE value, and the schema has already vouched for every type.
func decodeDocument(doc *Document, st *ast.StructLit) error {
	if md, ok := field(st, "metadata").(*ast.StructLit); ok {
		if err := decodeJSON(field(md, "labels"), &doc.Labels); err != nil {
			return err
		}
		if err := decodeJSON(field(md, "annotations"), &doc.Annotations); err != nil {
			return err
		}
	}
	k, ok := policyKinds[doc.Kind]
	if !ok {
		return fmt.Errorf("no typed form for kind %s", doc.Kind)
	}
	doc.Spec = k.newSpec()
	if err := decodeJSON(field(st, "spec"), doc.Spec); err != nil {
		return err
	}
	// Istio reads protocol names in any case; later stages compare them upper-case.
	switch spec := doc.Spec.(type) {
	case *ServiceEntry:
		for i := range spec.Ports {
			spec.Ports[i].Protocol = strings.ToUpper(spec.Ports[i].Protocol)
		}
	case *Gateway:
		for i := range spec.Servers {
			spec.Servers[i].Port.Protocol = strings.ToUpper(spec.Servers[i].Port.Protocol)
		}
	case *KubernetesService:
		spec.Entry = spec.serviceEntry(doc)
	}
	return nil
}

func decodeJSON(x ast.Expr, v any) error {
	if x == nil {
		return nil
	}
	var b bytes.Buffer
	if err := writeJSON(&b, x); err != nil {
		return err
	}
	return json.Unmarshal(b.Bytes(), v)
}

// writeJSON writes decoded YAML syntax as JSON. It knows the literals the YAML decoder
// produces; anything else is an error, not a guess.
func writeJSON(b *bytes.Buffer, x ast.Expr) error {
	switch n := x.(type) {
	case *ast.StructLit:
		b.WriteByte('{')
		first := true
		for _, d := range n.Elts {
			f, ok := d.(*ast.Field)
			if !ok {
				return fmt.Errorf("unexpected %T in a mapping", d)
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				return err
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeJSONString(b, name)
			b.WriteByte(':')
			if err := writeJSON(b, f.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *ast.ListLit:
		b.WriteByte('[')
		for i, e := range n.Elts {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case *ast.UnaryExpr:
		if n.Op != token.SUB {
			return fmt.Errorf("unexpected operator %s", n.Op)
		}
		b.WriteByte('-')
		return writeJSON(b, n.X)
	case *ast.BasicLit:
		return writeJSONLiteral(b, n)
	case *ast.Ident:
		if n.Name != "true" && n.Name != "false" {
			return fmt.Errorf("unexpected identifier %s", n.Name)
		}
		b.WriteString(n.Name)
	default:
		return fmt.Errorf("unexpected %T", x)
	}
	return nil
}

func writeJSONLiteral(b *bytes.Buffer, n *ast.BasicLit) error {
	switch n.Kind {
	case token.STRING:
		s, err := literal.Unquote(n.Value)
		if err != nil {
			return err
		}
		writeJSONString(b, s)
	case token.INT:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return err
		}
		b.WriteString(strconv.FormatInt(i, 10))
	case token.FLOAT:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return err
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case token.NULL, token.TRUE, token.FALSE:
		b.WriteString(n.Value)
	default:
		return fmt.Errorf("unexpected literal %s", n.Value)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}
