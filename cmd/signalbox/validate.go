package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate [DIR] [flags]", stderr)
	var in input
	format := fs.String("format", "text", "output format: text or json")
	schemaOnly := fs.Bool("schema-only", false, "check each document alone, no cross-resource analysis")
	fs.StringVar(&in.repo, "repo", "", "validate the tree of a git repository at --ref instead of the directory on disk")
	fs.StringVar(&in.ref, "ref", "HEAD", "git revision to validate with --repo")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "signalbox validate: unknown --format %q (text, json)\n", *format)
		return exitUsage
	}
	if err := in.resolveDir(pos); err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	files, _, err := in.read()
	if err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	tree, findings := schema.Load(files)
	if !*schemaOnly && !schema.HasErrors(findings) {
		_, more := compiler.Compile(tree)
		findings = append(findings, more...)
	}
	findings = in.display(findings)
	if err := writeFindings(*format, findings, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "signalbox validate:", err)
		return exitUsage
	}
	if schema.HasErrors(findings) {
		return exitFindings
	}
	if *format == "text" {
		fmt.Fprintf(stdout, "%s: %d documents valid\n", in.dir, len(tree.Documents))
	}
	return exitOK
}

// writeFindings prints findings: text to stderr one a line, json to stdout as one array.
func writeFindings(format string, findings []schema.Finding, stdout, stderr io.Writer) error {
	if format == "json" {
		type jsonFinding struct {
			File      string `json:"file"`
			Line      int    `json:"line"`
			Column    int    `json:"column"`
			Severity  string `json:"severity"`
			Code      string `json:"code,omitempty"`
			Kind      string `json:"kind,omitempty"`
			Namespace string `json:"namespace,omitempty"`
			Name      string `json:"name,omitempty"`
			Path      string `json:"path,omitempty"`
			Message   string `json:"message"`
		}
		out := make([]jsonFinding, 0, len(findings))
		for _, f := range findings {
			out = append(out, jsonFinding{f.Pos.File, f.Pos.Line, f.Pos.Col, string(f.Severity), f.Code, f.Kind, f.Namespace, f.Name, f.Path, f.Message})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, f := range findings {
		if _, err := fmt.Fprintln(stderr, f.String()); err != nil {
			return err
		}
	}
	return nil
}
