package diff

import (
	"fmt"
	"io"
	"strings"
)

// Limits that keep a pull-request comment under GitHub's 65,536 characters.
const (
	maxMarkdownRows = 150
	maxDiagramHosts = 8
)

// WriteMarkdown prints the report for a pull-request comment: a headline, one table per
// changed host, tables for clusters and listeners, and a Mermaid diagram of the changed hosts'
// traffic split before and after.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### signalbox diff: %s\n\n", r.headline())
	fmt.Fprintf(&b, "%s → %s\n", mdSide(r.Base), mdSide(r.Head))
	if !r.Changed() {
		b.WriteString("\nProxies will see exactly the same configuration.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	rows := 0
	section := ""
	for _, c := range r.Changes {
		if rows == maxMarkdownRows {
			fmt.Fprintf(&b, "\n… and %d more changes (run `signalbox diff` for all of them).\n", len(r.Changes)-rows)
			break
		}
		s, h, row := c.markdownRow()
		if s != section {
			fmt.Fprintf(&b, "\n#### %s\n\n%s\n", s, h)
			section = s
		}
		b.WriteString(row)
		rows++
	}
	if d := r.mermaid(); d != "" {
		b.WriteString("\n#### Traffic split\n\n```mermaid\n" + d + "```\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdSide(s Side) string {
	if s.Ref == "" {
		return "`" + s.Version + "`"
	}
	return "`" + s.Ref + "` (`" + s.Version + "`)"
}

// markdownRow places a change in a section (a host, clusters or listeners) with that section's
// table header, and renders its row.
func (c Change) markdownRow() (section, header, row string) {
	cells := func(xs ...string) string {
		for i, x := range xs {
			xs[i] = cell(x)
		}
		return "| " + strings.Join(xs, " | ") + " |\n"
	}
	switch {
	case c.Cluster != "":
		return "Clusters", "| Cluster | Change | Before | After |\n|---|---|---|---|",
			cells("`"+c.Cluster+"`", c.What, c.Before, c.After)
	case c.Listener != "":
		return "Listeners · " + c.Role, "| Listener | Change | Before | After |\n|---|---|---|---|",
			cells("`"+c.Listener+"`", c.What, c.Before, c.After)
	case c.Host == "":
		return "Roles", "| Role | Change | Before | After |\n|---|---|---|---|",
			cells(c.Role, c.What, c.Before, c.After)
	}
	route := c.Route
	if route == "" {
		route = "—"
	}
	return c.Role + " · `" + c.Host + "`", "| Route | Change | Before | After |\n|---|---|---|---|",
		cells(route, c.What, c.Before, c.After)
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ").Replace(s)
}
