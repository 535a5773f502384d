package proxy

import (
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// RBAC's metadata matchers (Permission.metadata, Principal.metadata) over the one dynamic
// metadata this proxy produces: the payloads jwt_authn verified (jwt_eval.go), which is how
// Istio compiles request.auth.claims and request.auth.principal. Metadata of any other filter
// would never be set here, so a matcher naming it is refused rather than silently never
// matching.

// metadataMatcher is Envoy's MetadataMatcher: the value at path under the filter's metadata,
// matched by value, the result inverted when invert is set.
type metadataMatcher struct {
	path   []string
	value  valueMatcher
	invert bool
}

type valueKind uint8

const (
	vmString valueKind = iota
	vmBool
	vmNull
	vmPresent
	vmList
)

// valueMatcher is a ValueMatcher over a JSON value; list's element matcher is oneOf.
type valueMatcher struct {
	kind  valueKind
	str   stringMatcher
	b     bool // bool_match, present_match
	oneOf *valueMatcher
}

func decodeMetadataMatcher(p fieldPath, m *matcherv3.MetadataMatcher) (rbacMatcher, error) {
	if err := onlyFields(p, m, "filter", "path", "value", "invert"); err != nil {
		return rbacMatcher{}, err
	}
	if m.GetFilter() != jwtFilterName {
		return rbacMatcher{}, p.field("filter").errorf("%q is not supported: only %s metadata is set by this proxy", m.GetFilter(), jwtFilterName)
	}
	mm := &metadataMatcher{invert: m.GetInvert()}
	for i, seg := range m.GetPath() {
		sp := p.field("path").index(i)
		if err := onlyFields(sp, seg, "key"); err != nil {
			return rbacMatcher{}, err
		}
		mm.path = append(mm.path, seg.GetKey())
	}
	v, err := decodeValueMatcher(p.field("value"), m.GetValue())
	if err != nil {
		return rbacMatcher{}, err
	}
	mm.value = v
	return rbacMatcher{kind: rbMetadata, meta: mm}, nil
}

// decodeValueMatcher accepts string_match, bool_match, null_match, present_match and
// list_match; double_match and or_match are not implemented.
func decodeValueMatcher(p fieldPath, m *matcherv3.ValueMatcher) (valueMatcher, error) {
	if m == nil {
		return valueMatcher{}, p.errorf("required")
	}
	if err := onlyFields(p, m, "string_match", "bool_match", "null_match", "present_match", "list_match"); err != nil {
		return valueMatcher{}, err
	}
	switch v := m.GetMatchPattern().(type) {
	case *matcherv3.ValueMatcher_StringMatch:
		sm, err := decodeStringMatcher(p.field("string_match"), v.StringMatch)
		return valueMatcher{kind: vmString, str: sm}, err
	case *matcherv3.ValueMatcher_BoolMatch:
		return valueMatcher{kind: vmBool, b: v.BoolMatch}, nil
	case *matcherv3.ValueMatcher_NullMatch_:
		return valueMatcher{kind: vmNull}, nil
	case *matcherv3.ValueMatcher_PresentMatch:
		return valueMatcher{kind: vmPresent, b: v.PresentMatch}, nil
	case *matcherv3.ValueMatcher_ListMatch:
		lp := p.field("list_match")
		if err := onlyFields(lp, v.ListMatch, "one_of"); err != nil {
			return valueMatcher{}, err
		}
		one, err := decodeValueMatcher(lp.field("one_of"), v.ListMatch.GetOneOf())
		return valueMatcher{kind: vmList, oneOf: &one}, err
	}
	return valueMatcher{}, p.errorf("one of string_match, bool_match, null_match, present_match, list_match is required")
}

// match walks the path as Envoy's Metadata::metadataValue does: every step but the last
// must be a JSON object; a missing key, or no verified payload at all, is an unset value.
func (m *metadataMatcher) match(md jwtMetadata) bool {
	var v any
	set := false
	if md != nil && len(m.path) > 0 {
		cur := map[string]any(md)
		for i, k := range m.path {
			if cur == nil {
				set = false
				break
			}
			v, set = cur[k]
			if !set {
				break
			}
			if i < len(m.path)-1 {
				cur, _ = v.(map[string]any)
			}
		}
	}
	return m.value.match(v, set) != m.invert
}

// match follows Envoy's ValueMatcher: a string matcher matches strings only, so a list claim
// needs list_match and a string claim never satisfies one.
func (vm *valueMatcher) match(v any, set bool) bool {
	if !set {
		return false
	}
	switch vm.kind {
	case vmString:
		s, ok := v.(string)
		return ok && vm.str.match(s)
	case vmBool:
		b, ok := v.(bool)
		return ok && b == vm.b
	case vmNull:
		return v == nil
	case vmPresent:
		return vm.b
	case vmList:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range l {
			if vm.oneOf.match(e, true) {
				return true
			}
		}
	}
	return false
}
