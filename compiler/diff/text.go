package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints a headline and one change a line: WHERE: WHAT: BEFORE → AFTER.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s: %s\n", sideName(r.Base), sideName(r.Head), r.headline())
	for _, c := range r.Changes {
		b.WriteString(c.where() + ": " + c.What)
		if s := c.change(); s != "" {
			b.WriteString(": " + s)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as one JSON object: base, head and the list of changes.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *Report) headline() string {
	switch n := len(r.Changes); n {
	case 0:
		return "no traffic change"
	case 1:
		return "1 traffic change"
	default:
		return fmt.Sprintf("%d traffic changes", n)
	}
}

func sideName(s Side) string {
	if s.Ref == "" {
		return s.Version
	}
	return s.Ref + " (" + s.Version + ")"
}

// where names the place of a change: "sidecar reviews.default.svc.cluster.local:9080 route r1".
func (c Change) where() string {
	var parts []string
	add := func(prefix, v string) {
		if v != "" {
			parts = append(parts, prefix+v)
		}
	}
	add("", c.Role)
	add("", c.Host)
	add("route ", c.Route)
	add("cluster ", c.Cluster)
	add("listener ", c.Listener)
	return strings.Join(parts, " ")
}

// change is "BEFORE → AFTER", or the one side there is.
func (c Change) change() string {
	switch {
	case c.Before != "" && c.After != "":
		return c.Before + " → " + c.After
	case c.Before != "":
		return c.Before
	}
	return c.After
}
