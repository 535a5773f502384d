package analysis

import (
	"fmt"
	"path"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// Suppression silences findings of one code (or a glob of codes) on the resources a pattern
// names: "SB0005" everywhere, "SB0005=VirtualService/default/reviews" on one resource,
// "SB0009=Gateway/*/*" on every Gateway. Patterns are path.Match globs per part. Only coded
// findings can be suppressed: a schema error is never silenced.
type Suppression struct {
	Code, Kind, Namespace, Name string
}

// ParseSuppression reads CODE or CODE=KIND/NAMESPACE/NAME.
func ParseSuppression(s string) (Suppression, error) {
	code, target, hasTarget := strings.Cut(s, "=")
	sup := Suppression{Code: code, Kind: "*", Namespace: "*", Name: "*"}
	if code == "" {
		return sup, fmt.Errorf("suppression %q: want CODE or CODE=KIND/NAMESPACE/NAME", s)
	}
	if hasTarget {
		parts := strings.Split(target, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return sup, fmt.Errorf("suppression %q: want CODE=KIND/NAMESPACE/NAME (globs allowed, e.g. %s=Gateway/*/*)", s, code)
		}
		sup.Kind, sup.Namespace, sup.Name = parts[0], parts[1], parts[2]
	}
	for _, p := range []string{sup.Code, sup.Kind, sup.Namespace, sup.Name} {
		if _, err := path.Match(p, ""); err != nil {
			return sup, fmt.Errorf("suppression %q: bad pattern %q", s, p)
		}
	}
	if !strings.ContainsAny(sup.Code, "*?[") {
		if _, ok := RuleFor(sup.Code); !ok {
			return sup, fmt.Errorf("suppression %q: unknown code %s (codes are SB0001 to SB%04d)", s, sup.Code, len(rules))
		}
	}
	return sup, nil
}

// Matches reports whether the suppression silences f.
func (s Suppression) Matches(f schema.Finding) bool {
	return f.Code != "" && glob(s.Code, f.Code) && glob(s.Kind, f.Kind) &&
		glob(s.Namespace, f.Namespace) && glob(s.Name, f.Name)
}

func glob(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// Suppress returns the findings no suppression matches.
func Suppress(findings []schema.Finding, sups []Suppression) []schema.Finding {
	if len(sups) == 0 {
		return findings
	}
	var out []schema.Finding
	for _, f := range findings {
		silenced := false
		for _, s := range sups {
			if s.Matches(f) {
				silenced = true
				break
			}
		}
		if !silenced {
			out = append(out, f)
		}
	}
	return out
}
