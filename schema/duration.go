package schema

import (
	"errors"
	"strings"
	"time"
)

// ParseDuration reads a duration the way Istio reads one from YAML: a sequence of decimal
// numbers, each with an optional fraction and a unit ("ns", "us", "µs", "ms", "s", "m", "h"),
// such as "1.5s", "300ms" or "1h30m". A sign is allowed, as Istio's decoder allows it; the schema
// refuses negative durations where Istio does. Values beyond about 290 years (time.Duration's
// range) fail.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if strings.TrimSpace(s) != s {
		return 0, errors.New("duration " + quote(s) + " has surrounding spaces")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("invalid duration " + quote(s) + `: want a number with a unit, such as "1.5s" or "300ms"`)
	}
	return d, nil
}

func quote(s string) string { return `"` + s + `"` }
