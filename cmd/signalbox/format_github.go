package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// writeGitHub prints GitHub Actions workflow commands (::error / ::warning), which the runner
// turns into annotations on the pull request's files. The runner shows at most 10 annotations
// of each severity per step, so when $GITHUB_STEP_SUMMARY is set every finding also goes into
// a Markdown table on the job's summary page.
func writeGitHub(out findingOutput, findings []schema.Finding) error {
	for _, f := range findings {
		cmd := "error"
		if f.Severity == schema.SeverityWarning {
			cmd = "warning"
		}
		var props []string
		if f.Pos.File != "" {
			props = append(props, "file="+escapeProperty(f.Pos.File))
		}
		if f.Pos.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Pos.Line), fmt.Sprintf("col=%d", f.Pos.Col))
		}
		props = append(props, "title="+escapeProperty(githubTitle(f)))
		if _, err := fmt.Fprintf(out.stdout, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(f.Message)); err != nil {
			return err
		}
	}
	if out.summaryPath == "" {
		return nil
	}
	return appendSummary(out.summaryPath, out.dir, findings)
}

func githubTitle(f schema.Finding) string {
	title := "signalbox"
	if f.Code != "" {
		title = f.Code
	}
	if r := resource(f); r != "" {
		title += " " + r
	}
	return title
}

// escapeData escapes a workflow command's message as the runner unescapes it.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command property value: data escaping plus ':' and ','.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// maxSummaryRows keeps the step summary well under GitHub's 1 MiB limit per step.
const maxSummaryRows = 1000

// appendSummary appends a Markdown report of every finding to the step summary file.
func appendSummary(path, dir string, findings []schema.Finding) error {
	var b strings.Builder
	errs, warns := 0, 0
	for _, f := range findings {
		if f.Severity == schema.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	fmt.Fprintf(&b, "### signalbox validate %s\n\n", dir)
	if len(findings) == 0 {
		b.WriteString("No findings: the policy tree is valid.\n\n")
	} else {
		fmt.Fprintf(&b, "%d error(s), %d warning(s).\n\n", errs, warns)
		b.WriteString("| Severity | Code | Location | Resource | Message |\n|---|---|---|---|---|\n")
		for i, f := range findings {
			if i == maxSummaryRows {
				fmt.Fprintf(&b, "\n… and %d more findings: run `signalbox validate` for all of them.\n", len(findings)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", f.Severity, mdCell(f.Code), f.Pos, mdCell(resource(f)), mdCell(f.Message))
		}
		b.WriteString("\n")
	}
	file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.WriteString(b.String()); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\r", " ", "\n", " ").Replace(s)
}
