package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/signalbox/signalbox/schema"
)

// findingOutput is where a findings writer prints: text goes to stderr (stdout keeps the
// one-line verdict), machine formats to stdout; summaryPath is $GITHUB_STEP_SUMMARY.
type findingOutput struct {
	stdout, stderr io.Writer
	summaryPath    string
	dir            string
}

// findingFormats are the --format values of validate, in the order usage lists them.
var findingFormats = []string{"text", "json", "github", "sarif"}

var findingWriters = map[string]func(findingOutput, []schema.Finding) error{
	"text":   writeText,
	"json":   writeJSON,
	"github": writeGitHub,
	"sarif":  writeSARIF,
}

// writeFindings prints findings in one of the formats (compile uses text).
func writeFindings(format string, findings []schema.Finding, stdout, stderr io.Writer) error {
	return findingWriters[format](findingOutput{stdout: stdout, stderr: stderr}, findings)
}

// writeText prints one finding a line: FILE:LINE:COL: SEVERITY: [CODE: ]KIND NS/NAME: MESSAGE.
func writeText(out findingOutput, findings []schema.Finding) error {
	for _, f := range findings {
		if _, err := fmt.Fprintln(out.stderr, f.String()); err != nil {
			return err
		}
	}
	return nil
}

// jsonFinding is one finding in --format json: every field always present, so consumers need
// no defaults.
type jsonFinding struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Code      string `json:"code"`
	Severity  string `json:"severity"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Path      string `json:"path"`
	Message   string `json:"message"`
}

// writeJSON prints the findings as one JSON array on stdout ([] when clean).
func writeJSON(out findingOutput, findings []schema.Finding) error {
	list := make([]jsonFinding, 0, len(findings))
	for _, f := range findings {
		list = append(list, jsonFinding{f.Pos.File, f.Pos.Line, f.Pos.Col, f.Code, string(f.Severity),
			f.Kind, f.Namespace, f.Name, f.Path, f.Message})
	}
	enc := json.NewEncoder(out.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

// resource names a finding's document as "KIND NS/NAME", or "" for file-level findings.
func resource(f schema.Finding) string {
	if f.Kind == "" {
		return ""
	}
	return f.Kind + " " + f.Namespace + "/" + f.Name
}
