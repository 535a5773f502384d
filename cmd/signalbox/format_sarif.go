package main

import (
	"encoding/json"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/schema"
)

// SARIF 2.1.0, the subset code-scanning tools read: one run, one rule per analysis code plus
// one for findings without a code (schema and translation errors), one result per finding.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name"`
	ShortDescription     sarifText    `json:"shortDescription"`
	HelpURI              string       `json:"helpUri"`
	DefaultConfiguration sarifDefault `json:"defaultConfiguration"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// schemaRuleID is the SARIF rule of findings without a code.
const schemaRuleID = "schema"

func writeSARIF(out findingOutput, findings []schema.Finding) error {
	rules := []sarifRule{{ID: schemaRuleID, Name: "schema-validation",
		ShortDescription: sarifText{"document does not validate or cannot be compiled"},
		HelpURI:          analysis.HelpURI(""), DefaultConfiguration: sarifDefault{"error"}}}
	index := map[string]int{schemaRuleID: 0}
	for _, r := range analysis.Rules() {
		index[r.Code] = len(rules)
		rules = append(rules, sarifRule{ID: r.Code, Name: r.Name, ShortDescription: sarifText{r.Summary},
			HelpURI: analysis.HelpURI(r.Code), DefaultConfiguration: sarifDefault{string(r.Severity)}})
	}
	results := make([]sarifResult, 0, len(findings))
	for _, f := range findings {
		id := f.Code
		if _, ok := index[id]; !ok {
			id = schemaRuleID
		}
		msg := f.Message
		if r := resource(f); r != "" {
			msg = r + ": " + msg
		}
		res := sarifResult{RuleID: id, RuleIndex: index[id], Level: string(f.Severity), Message: sarifText{msg}}
		if f.Pos.File != "" {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Pos.File}}}
			if f.Pos.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Pos.Line, StartColumn: f.Pos.Col}
			}
			res.Locations = []sarifLocation{loc}
		}
		results = append(results, res)
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: sarifDriver{Name: "signalbox",
			InformationURI: "https://github.com/signalbox/signalbox", Rules: rules}}, Results: results}},
	}
	b, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return err
	}
	_, err = out.stdout.Write(append(b, '\n'))
	return err
}
