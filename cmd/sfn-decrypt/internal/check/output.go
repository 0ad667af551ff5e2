package check

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText writes one line per finding: the state, the severity, the
// rule, and the message (which says how to fix it).
func WriteText(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if _, err := fmt.Fprintf(w, "%s: %s: %s: %s [path %s, class %s]\n", f.State, f.Severity, f.Rule, f.Message, f.Path, f.Class); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes {"findings": [...]}.
func WriteJSON(w io.Writer, fs []Finding) error {
	if fs == nil {
		fs = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings []Finding `json:"findings"`
	}{fs})
}

var ruleHelp = map[string]string{
	RuleChoiceOnToken:     "A Choice rule compares a value that is a token: the comparison never sees the value.",
	RuleIntrinsicOnToken:  "An intrinsic function or JSONata expression uses a token other than by passing it whole.",
	RuleUnselectedPath:    "A token reaches a function with the middleware at a path no rule of its class selects, so the function gets the token instead of the data.",
	RuleTokenToService:    "Tokens reach a task that is not a Lambda function with the middleware.",
	RuleClassNeverReaches: "A function may decrypt a class that never reaches it.",
}

// WriteSARIF writes the findings as a SARIF 2.1.0 log; uri names the
// definition (or template) the findings are about.
func WriteSARIF(w io.Writer, fs []Finding, uri string) error {
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string `json:"id"`
		ShortDescription msg    `json:"shortDescription"`
		Default          struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	type logical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	type location struct {
		Physical struct {
			Artifact struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
		} `json:"physicalLocation"`
		Logical []logical `json:"logicalLocations"`
	}
	type result struct {
		RuleID     string            `json:"ruleId"`
		Level      string            `json:"level"`
		Message    msg               `json:"message"`
		Locations  []location        `json:"locations"`
		Properties map[string]string `json:"properties"`
	}
	level := map[string]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "note"}
	var rules []rule
	for _, id := range []string{RuleChoiceOnToken, RuleIntrinsicOnToken, RuleUnselectedPath, RuleTokenToService, RuleClassNeverReaches} {
		r := rule{ID: id, ShortDescription: msg{ruleHelp[id]}}
		r.Default.Level = level[severity[id]]
		rules = append(rules, r)
	}
	results := []result{}
	for _, f := range fs {
		var loc location
		loc.Physical.Artifact.URI = uri
		loc.Logical = []logical{{Name: f.State, FullyQualifiedName: "States." + f.State, Kind: "state"}}
		results = append(results, result{RuleID: f.Rule, Level: level[f.Severity], Message: msg{f.Message},
			Locations: []location{loc}, Properties: map[string]string{"path": f.Path, "class": f.Class}})
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "sfn-decrypt check", "informationUri": "https://github.com/sfnenc/sfnenc", "rules": rules}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
