package check

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/timeline"
)

// WriteText writes one line per finding that is not suppressed: the
// state, the severity, the rule, and the message (which says how to fix
// it). State names and paths come from the definition: control characters
// in them are escaped, so that they cannot rewrite the terminal.
func WriteText(w io.Writer, fs []Finding) error {
	for _, f := range fs {
		if f.Suppressed != "" {
			continue
		}
		line := fmt.Sprintf("%s: %s: %s: %s [path %s, class %s]", f.State, f.Severity, f.Rule, f.Message, f.Path, f.Class)
		if _, err := fmt.Fprintln(w, timeline.Escape(line)); err != nil {
			return err
		}
	}
	return nil
}

// jsonFinding is a finding as WriteJSON writes it.
type jsonFinding struct {
	Finding
	Fingerprint string `json:"fingerprint"`
}

// WriteJSON writes {"findings": [...]}, suppressed ones included (with
// "suppressed" and "justification").
func WriteJSON(w io.Writer, fs []Finding) error {
	out := make([]jsonFinding, 0, len(fs))
	for _, f := range fs {
		out = append(out, jsonFinding{f, f.Fingerprint()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings []jsonFinding `json:"findings"`
	}{out})
}

var ruleHelp = map[string][2]string{
	RuleChoiceOnToken: {"A Choice rule compares a value that is a token: the comparison never sees the value.",
		"Compare the value in a function that decrypts its class, and have that function return an unencrypted decision."},
	RuleIntrinsicOnToken: {"An intrinsic function or JSONata expression uses a token other than by passing it whole.",
		"Do the work in a function that decrypts the class. A token inside a string is found by no reader, and a token is no array or object."},
	RulePathIntoToken: {"A path reads inside a value that a rule encrypts whole (an object or array): at run time there is nothing there.",
		"Read the field in a function that decrypts the class, or select the fields the state machine needs instead of the whole value."},
	RuleTokenInControl: {"A token is where Step Functions itself needs the value: the items of a Map, a number of seconds, a timestamp, a limit.",
		"Keep the value out of the rules, or compute it in a function that decrypts the class and returns it unencrypted."},
	RuleUnselectedPath: {"A token reaches a function with the middleware at a path no rule of its class selects, so the function gets the token instead of the data.",
		"Pass the field under a name a rule selects, or add a selector for the path (never one that selects the whole input)."},
	RulePlaintextAtSelected: {"A value that is not a token reaches a path a rule selects, in the input of a function with the middleware: the function fails with sfnenc.ContractError.",
		"Build the value in a function with the middleware, which returns it encrypted, or pass it under a name no rule of the class selects. A first function whose caller does not encrypt may set SFNENC_ACCEPT_PLAINTEXT."},
	RuleContextPathDropped: {"A function with the middleware may get tokens of a class bound to a business key (the rule's bind or context path) in an input without that path: the middleware evaluates the path on its input and refuses the tokens with sfnenc.DecryptError.",
		"Carry the value at that path into every input that holds the tokens (the Map's ItemSelector, the task's Parameters or Arguments, ResultSelector, OutputPath), from the document the tokens came in."},
	RuleTokenToServiceField: {"A token reaches a field that a service uses as a value: an address to send to, a phone number, a key to find an item by.",
		"Send the field unencrypted from a function that decrypts the class, or keep it out of the rules."},
	RuleTokenToService: {"Tokens reach a task that is not a Lambda function with the middleware.",
		"Make sure the receiver can decrypt them, or send it only unencrypted fields."},
	RuleClassNeverReaches: {"A function may decrypt a class that never reaches it.",
		"Remove the class from the function's SFNENC_CLASSES and its kms:Decrypt grant."},
	RuleTooDeep: {"Values nest deeper than the check follows: below that depth it cannot say where tokens are.",
		"Flatten the data, or check the state by hand."},
	RuleGrantMissing: {"A function's classes need a KMS grant its role lacks: it will fail with AccessDenied.",
		"Grant the KMS action on the key, conditioned on the class and the configured context (sfn-decrypt policy writes the statements)."},
	RuleGrantTooBroad: {"A role may decrypt or write a class it does not need, or a grant lacks the class condition.",
		"Condition each grant on kms:EncryptionContext:sfnenc:class, for exactly the classes of SFNENC_CLASSES (decrypt) and SFNENC_WRITES (write)."},
	RuleBreakGlassEncryptOpen: {"Someone other than the writers may kms:Encrypt on a break-glass key, and so make tokens its readers accept.",
		"Allow kms:Encrypt on a break-glass key only to the writers, for their classes."},
	RuleGrantNotChecked: {"Permissions of a function's role that the check cannot see: managed policies by ARN, SAM policy templates, permissions boundaries, roles outside the file, SCPs, grants made at run time.",
		"Check them by hand, or write the statements in the template."},
	RuleGrantSharedRole: {"A function runs as the one role every function of its Serverless service shares, so it may do whatever any of them needs.",
		"Give each function a role of its own (role: under the function), with the statements sfn-decrypt policy writes for it."},
	RuleBadSuppression: {"A sfnenc-check:ignore directive has no reason, names no rule, or matches nothing.",
		"Write sfnenc-check:ignore RULE-ID reason in the Comment of the state the finding is about, or remove the directive."},
}

// SARIF says where the findings are written, for WriteSARIF.
type SARIF struct {
	// Definition gives the places of the states; nil: File only.
	Definition *stack.Definition
	// File is the file the findings are about when Definition is nil.
	File string
	// Root is the directory the artifact paths are relative to (the
	// git top level if empty, else the working directory).
	Root string
	// Version is the tool's version.
	Version string
}

// uriBase is the uriBaseId of every artifact: the root of the repository,
// as code-scanning tools name it.
const uriBase = "%SRCROOT%"

// WriteSARIF writes the findings as a SARIF 2.1.0 log: each result with
// the region of the state in the file where it is written, the artifact's
// path relative to the root, its fingerprint in partialFingerprints, and
// its suppression if it has one.
func WriteSARIF(w io.Writer, fs []Finding, opt SARIF) error {
	type text struct {
		Text string `json:"text"`
	}
	type help struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown"`
	}
	type rule struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Short   text   `json:"shortDescription"`
		Full    text   `json:"fullDescription"`
		Help    help   `json:"help"`
		Default struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	type artifact struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId"`
	}
	type physical struct {
		Artifact artifact `json:"artifactLocation"`
		Region   *region  `json:"region,omitempty"`
	}
	type logical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	type location struct {
		Physical physical  `json:"physicalLocation"`
		Logical  []logical `json:"logicalLocations"`
	}
	type suppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification,omitempty"`
	}
	type result struct {
		RuleID       string            `json:"ruleId"`
		RuleIndex    int               `json:"ruleIndex"`
		Level        string            `json:"level"`
		Message      text              `json:"message"`
		Locations    []location        `json:"locations"`
		Fingerprints map[string]string `json:"partialFingerprints"`
		Suppressions []suppression     `json:"suppressions,omitempty"`
		Properties   map[string]string `json:"properties"`
	}
	level := map[string]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "note"}
	index := map[string]int{}
	rules := []rule{}
	for i, id := range Rules {
		r := rule{ID: id, Name: id, Short: text{ruleHelp[id][0]}, Full: text{ruleHelp[id][0]}}
		r.Help = help{Text: ruleHelp[id][0] + " " + ruleHelp[id][1], Markdown: "**" + id + "**: " + ruleHelp[id][0] + "\n\n" + ruleHelp[id][1]}
		r.Default.Level = level[severity[id]]
		rules = append(rules, r)
		index[id] = i
	}
	root := opt.Root
	results := []result{}
	for _, f := range fs {
		var loc location
		file, at := opt.File, stack.Pos{}
		switch {
		case f.At.File != "":
			at, file = f.At, f.At.File
		case opt.Definition != nil:
			at = opt.Definition.StateAt(f.State)
			file = at.File
		}
		loc.Physical.Artifact = artifact{URI: artifactURI(file, root), URIBaseID: uriBase}
		if at.Line > 0 {
			loc.Physical.Region = &region{StartLine: at.Line, StartColumn: at.Column}
		}
		loc.Logical = []logical{{Name: f.State, FullyQualifiedName: "States." + f.State, Kind: "object"}}
		r := result{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: level[f.Severity], Message: text{f.Message},
			Locations: []location{loc}, Fingerprints: map[string]string{"sfnencFinding/v1": f.Fingerprint()},
			Properties: map[string]string{"path": f.Path, "class": f.Class}}
		if f.Suppressed != "" {
			r.Suppressions = []suppression{{Kind: f.Suppressed, Justification: f.Justification}}
		}
		results = append(results, r)
	}
	version := opt.Version
	if version == "" {
		version = "(unknown)"
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "sfn-decrypt check", "version": version,
				"informationUri": "https://github.com/sfnenc/sfnenc", "rules": rules}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// artifactURI is file's path relative to root (if empty: the git top
// level above the file, else the working directory), with "/" separators,
// as a relative URI reference.
func artifactURI(file, root string) string {
	if file == "" {
		return ""
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return filepath.ToSlash(file)
	}
	if root == "" {
		root = gitTop(filepath.Dir(abs))
	}
	if root == "" {
		root, _ = os.Getwd()
	}
	if r, err := filepath.Abs(root); err == nil {
		if rel, err := filepath.Rel(r, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return uriEscape(filepath.ToSlash(rel))
		}
	}
	return uriEscape(filepath.ToSlash(file))
}

// uriEscape escapes what a relative URI reference may not hold.
func uriEscape(p string) string {
	var b strings.Builder
	for _, c := range []byte(p) {
		if c > 0x20 && c < 0x7f && !strings.ContainsRune(`"%<>\^`+"`{|}#?[]", rune(c)) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// gitTop is the nearest directory at or above dir that holds .git, or "".
func gitTop(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
