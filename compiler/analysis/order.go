package analysis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// ruleOrder finds rules that can never be taken: Envoy (like Istio) tries rules in order and
// the first match wins, so every rule after one that matches all requests is dead (SB0005), and
// a match whose requests all satisfy an earlier rule's match is dead too (SB0006).
func (a *analyzer) ruleOrder(d *schema.Document, rules []schema.HTTPRoute) {
	if len(rules) < 2 {
		return
	}
	var earlier []*matchAt
	for i, rule := range rules {
		if len(rule.Match) == 0 {
			a.afterCatchAll(d, rules, i)
			return
		}
		ms := make([]*matchAt, 0, len(rule.Match))
		for j, m := range rule.Match {
			if i < len(rules)-1 && isCatchAll(m) {
				a.afterCatchAll(d, rules, i)
				return
			}
			cur := &matchAt{ref: fieldRef{"spec.http[%d].match[%d]", i, j}, rule: rule.Name, typed: m}
			for _, e := range earlier {
				if covers(e.generic(), cur.generic()) {
					a.report(d, CodeShadowedMatch, cur.ref.String(),
						"match can never be taken: every request it matches is routed earlier by %s", e)
					break
				}
			}
			ms = append(ms, cur)
		}
		earlier = append(earlier, ms...)
	}
}

func (a *analyzer) afterCatchAll(d *schema.Document, rules []schema.HTTPRoute, catchAll int) {
	by := fmt.Sprintf("spec.http[%d]", catchAll)
	if name := rules[catchAll].Name; name != "" {
		by += fmt.Sprintf(" (rule %q)", name)
	}
	for k := catchAll + 1; k < len(rules); k++ {
		a.report(d, CodeAfterCatchAll, fmt.Sprintf("spec.http[%d]", k),
			"rule can never match: %s before it matches every request", by)
	}
}

// matchAt is a match of an earlier rule; its generic form is made only when a later match is
// compared with it.
type matchAt struct {
	ref   fieldRef
	rule  string // the rule's name, if it has one
	typed schema.HTTPMatchRequest
	g     map[string]any
}

// String names the match for a reader: its path, and its rule's name when there is one.
func (m *matchAt) String() string {
	if m.rule == "" {
		return m.ref.String()
	}
	return fmt.Sprintf("%s (rule %q)", m.ref, m.rule)
}

func (m *matchAt) generic() map[string]any {
	if m.g == nil {
		m.g = genericMatch(m.typed)
	}
	return m.g
}

// notConditions are match fields that name or count a match rather than restrict it.
var notConditions = map[string]bool{"name": true, "statPrefix": true}

// genericMatch views a match as its JSON object (without its name), so that every condition
// Istio defines is compared, including those this package does not know by name.
func genericMatch(m schema.HTTPMatchRequest) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		return map[string]any{"unreadable": true}
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return map[string]any{"unreadable": true}
	}
	for k := range notConditions {
		delete(out, k)
	}
	return out
}

// isCatchAll reports a match that every request satisfies: no conditions, or only a uri
// prefix "/" (or a regex ".*"). Any other field set, known here or added to Istio's API
// later, makes it a real condition.
func isCatchAll(m schema.HTTPMatchRequest) bool {
	uri := m.URI
	m.Name, m.StatPrefix, m.URI = "", "", nil
	if !reflect.ValueOf(m).IsZero() {
		return false
	}
	if uri == nil {
		return true
	}
	s := *uri
	switch {
	case s == schema.StringMatch{}:
		return true
	case s.Exact == "" && s.Regex == "":
		return s.Prefix == "/"
	case s.Exact == "" && s.Prefix == "":
		return s.Regex == ".*" || s.Regex == "^.*$"
	}
	return false
}

func matchesAll(s map[string]any) bool {
	if len(s) == 0 {
		return true
	}
	if p, ok := s["prefix"].(string); ok && (p == "" || p == "/") && len(s) == 1 {
		return true
	}
	if r, ok := s["regex"].(string); ok && (r == ".*" || r == "^.*$") && len(s) == 1 {
		return true
	}
	return false
}

// stringMatchFields are the match fields that hold one StringMatch; mapFields hold a map of them.
var (
	stringMatchFields = map[string]bool{"uri": true, "scheme": true, "method": true, "authority": true}
	mapFields         = map[string]bool{"headers": true, "queryParams": true}
)

// covers reports whether every request matching b also matches a: each condition of a must be
// implied by the same condition of b. Unknown conditions must be equal, which errs towards not
// reporting.
func covers(a, b map[string]any) bool {
	if b["ignoreUriCase"] == true && a["ignoreUriCase"] != true && a["uri"] != nil {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		switch {
		case k == "ignoreUriCase":
			continue // only widens a, checked above
		case !ok:
			return false
		case stringMatchFields[k]:
			if !stringCovers(av, bv) {
				return false
			}
		case mapFields[k]:
			am, _ := av.(map[string]any)
			bm, _ := bv.(map[string]any)
			for name, sa := range am {
				sb, ok := bm[name]
				if !ok || !stringCovers(sa, sb) {
					return false
				}
			}
		default:
			if !reflect.DeepEqual(av, bv) {
				return false
			}
		}
	}
	return true
}

// stringCovers reports whether every string b admits is admitted by a (Istio StringMatch).
func stringCovers(av, bv any) bool {
	a, _ := av.(map[string]any)
	b, _ := bv.(map[string]any)
	if matchesAll(a) {
		return true
	}
	aExact, aIsExact := a["exact"].(string)
	aPrefix, aIsPrefix := a["prefix"].(string)
	aRegex, aIsRegex := a["regex"].(string)
	bExact, bIsExact := b["exact"].(string)
	bPrefix, bIsPrefix := b["prefix"].(string)
	bRegex, bIsRegex := b["regex"].(string)
	switch {
	case aIsExact:
		return bIsExact && bExact == aExact
	case aIsPrefix:
		return (bIsExact && strings.HasPrefix(bExact, aPrefix)) || (bIsPrefix && strings.HasPrefix(bPrefix, aPrefix))
	case aIsRegex:
		if bIsRegex {
			return bRegex == aRegex
		}
		if bIsExact {
			re, err := regexp.Compile("^(?:" + aRegex + ")$")
			return err == nil && re.MatchString(bExact)
		}
	}
	return false
}
