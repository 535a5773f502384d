package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/schema"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate [DIR | FILE...] [flags]", stderr)
	var in input
	var sups suppressFlag
	format := fs.String("format", "text", "output format: "+strings.Join(findingFormats, ", "))
	failOn := fs.String("fail-on", "error", "exit 1 when a finding is at or above this severity: error or warning")
	schemaOnly := fs.Bool("schema-only", false, "check each document alone, no cross-resource analysis")
	ignoreUnknown := fs.Bool("ignore-unknown", false, ignoreUnknownUsage)
	fs.Var(&sups, "suppress", "silence findings: CODE or CODE=KIND/NAMESPACE/NAME, globs allowed (repeatable)")
	fs.StringVar(&in.repo, "repo", "", "validate the tree of a git repository at --ref instead of the directory on disk")
	fs.StringVar(&in.ref, "ref", "HEAD", "git revision to validate with --repo")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	write, ok := findingWriters[*format]
	if !ok {
		fmt.Fprintf(stderr, "signalbox validate: unknown --format %q (%s)\n", *format, strings.Join(findingFormats, ", "))
		return exitUsage
	}
	threshold, ok := map[string]schema.Severity{"error": schema.SeverityError, "warning": schema.SeverityWarning}[*failOn]
	if !ok {
		fmt.Fprintf(stderr, "signalbox validate: unknown --fail-on %q (error, warning)\n", *failOn)
		return exitUsage
	}
	if err := in.resolveDir(pos); err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	files, refused, _, err := in.read()
	if err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	tree, findings := check(files, refused, *ignoreUnknown, !*schemaOnly)
	findings = in.display(analysis.Suppress(findings, sups))
	out := findingOutput{stdout: stdout, stderr: stderr, summaryPath: os.Getenv("GITHUB_STEP_SUMMARY"), dir: in.name()}
	if err := write(out, findings); err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	if failing(findings, threshold) {
		return exitFindings
	}
	if *format == "text" && tree != nil {
		fmt.Fprintf(stdout, "%s: %d documents valid%s\n", in.name(), len(tree.Documents), warningCount(findings))
	}
	return exitOK
}

// validateTree loads the files and, unless schema-only, analyses the tree and compiles it to
// catch what only translation sees (ports, duplicate declarations). Translation runs only when
// analysis found no error: it would report the same mistakes again, uncoded.
func validateTree(files []schema.File, ignoreUnknown, analyse bool) (*schema.Tree, []schema.Finding) {
	tree, findings := loadTree(files, ignoreUnknown)
	if !analyse || schema.HasErrors(findings) {
		return tree, findings
	}
	coded := analysis.Run(tree)
	findings = append(findings, coded...)
	if schema.HasErrors(findings) {
		return tree, findings
	}
	_, more := compiler.Compile(tree)
	return tree, append(findings, more...)
}

// failing reports whether any finding is at or above the threshold severity.
func failing(findings []schema.Finding, threshold schema.Severity) bool {
	for _, f := range findings {
		if f.Severity == schema.SeverityError || f.Severity == threshold {
			return true
		}
	}
	return false
}

func warningCount(findings []schema.Finding) string {
	n := 0
	for _, f := range findings {
		if f.Severity == schema.SeverityWarning {
			n++
		}
	}
	switch n {
	case 0:
		return ""
	case 1:
		return ", 1 warning"
	}
	return fmt.Sprintf(", %d warnings", n)
}

// suppressFlag collects repeatable --suppress values.
type suppressFlag []analysis.Suppression

func (s *suppressFlag) String() string { return "" }

func (s *suppressFlag) Set(v string) error {
	sup, err := analysis.ParseSuppression(v)
	if err != nil {
		return err
	}
	*s = append(*s, sup)
	return nil
}
