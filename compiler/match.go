package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// Pseudo-headers Envoy matches the request method, authority and scheme by, as Istio emits them.
const (
	headerMethod    = ":method"
	headerAuthority = ":authority"
	headerScheme    = ":scheme"
)

// translateMatch turns one Istio match block into an Envoy route match: headers (sorted by
// name), then withoutHeaders inverted, then authority, method and scheme, as Istio orders them.
// Fields signalbox cannot honour are reported at their position.
func (b *builder) translateMatch(d *schema.Document, path string, m schema.HTTPMatchRequest) ir.Match {
	var out ir.Match
	out.Path = uriMatch(m.URI)
	out.IgnoreCase = m.IgnoreURICase
	for name, sm := range m.Headers {
		out.Headers = append(out.Headers, ir.HeaderMatch{Name: name, Match: valueMatch(sm)})
	}
	for name, sm := range m.WithoutHeaders {
		out.Headers = append(out.Headers, ir.HeaderMatch{Name: name, Match: valueMatch(sm), Invert: true})
	}
	slices.SortStableFunc(out.Headers, func(a, c ir.HeaderMatch) int {
		if a.Name != c.Name {
			return strings.Compare(a.Name, c.Name)
		}
		return boolCompare(a.Invert, c.Invert)
	})
	for _, p := range []struct {
		name string
		m    *schema.StringMatch
	}{{headerMethod, m.Method}, {headerAuthority, m.Authority}, {headerScheme, m.Scheme}} {
		if p.m != nil {
			out.Headers = append(out.Headers, ir.HeaderMatch{Name: p.name, Match: valueMatch(*p.m)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.QueryParams)) {
		out.QueryParams = append(out.QueryParams, ir.HeaderMatch{Name: name, Match: valueMatch(m.QueryParams[name])})
	}
	if m.StatPrefix != "" {
		b.unsupported(d, path+".statPrefix")
	}
	return out
}

// source is the proxies a match block is for (Istio's sourceMatchHTTP): a block naming
// gateways is chosen by gateway alone, and one without source conditions is for every proxy.
func source(m schema.HTTPMatchRequest) *ir.Source {
	if len(m.Gateways) > 0 || len(m.SourceLabels) == 0 && m.SourceNamespace == "" {
		return nil
	}
	return &ir.Source{Labels: m.SourceLabels, Namespace: m.SourceNamespace}
}

// stringMatch translates Istio's one-of; an empty one ({}) matches presence.
func stringMatch(s schema.StringMatch) ir.StringMatch {
	switch {
	case s.Exact != "":
		return ir.StringMatch{Kind: ir.MatchExact, Value: s.Exact}
	case s.Regex != "":
		return ir.StringMatch{Kind: ir.MatchRegex, Value: s.Regex}
	case s.Prefix != "":
		return ir.StringMatch{Kind: ir.MatchPrefix, Value: s.Prefix}
	default:
		return ir.StringMatch{Kind: ir.MatchPresent}
	}
}

// valueMatch is stringMatch for header and query values, where Istio reads the regex "*" (not a
// valid RE2 pattern) as presence.
func valueMatch(s schema.StringMatch) ir.StringMatch {
	if s.Regex == "*" {
		return ir.StringMatch{Kind: ir.MatchPresent}
	}
	return stringMatch(s)
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// uriMatch is stringMatch for paths, where an empty matcher means every path.
func uriMatch(s *schema.StringMatch) ir.StringMatch {
	if s == nil {
		return ir.StringMatch{}
	}
	m := stringMatch(*s)
	if m.Kind == ir.MatchPresent {
		return ir.StringMatch{Kind: ir.MatchPrefix, Value: "/"}
	}
	return m
}

// unsupported reports a field signalbox does not compile yet: never dropped silently.
func (b *builder) unsupported(d *schema.Document, path string) {
	b.errorf(d, path, "not supported yet")
}

// unsupportedf is unsupported with a reason.
func (b *builder) unsupportedf(d *schema.Document, path, format string, args ...any) {
	b.errorf(d, path, "not supported yet (%s)", fmt.Sprintf(format, args...))
}
