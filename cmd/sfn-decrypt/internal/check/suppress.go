package check

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Fingerprint identifies a finding across edits of the definition: its
// state, rule, path and class, and no line, so that a change elsewhere in
// the file keeps it. Baselines and SARIF's partialFingerprints both use it.
func (f Finding) Fingerprint() string {
	h := sha256.Sum256([]byte("sfnenc-check/v1\x00" + f.State + "\x00" + f.Rule + "\x00" + f.Path + "\x00" + f.Class))
	return hex.EncodeToString(h[:16])
}

// Suppression kinds, as SARIF names them.
const (
	SuppressedInSource = "inSource" // a sfnenc-check:ignore directive in the state's Comment
	SuppressedBaseline = "external" // a finding recorded in the baseline file
)

// directive is the start of a suppression in a state's Comment. It is not
// the token prefix "sfnenc:", which is reserved in every document.
const directive = "sfnenc-check:ignore"

type suppression struct {
	state, rule, reason string
	used                bool
}

// suppressions reads the directives in the Comments of a definition's
// states ("sfnenc-check:ignore RULE-ID reason"; a reason runs to the next
// directive or the end of the Comment).
func suppressions(def map[string]any) []*suppression {
	var out []*suppression
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		states, _ := m["States"].(map[string]any)
		for _, name := range sortedKeys(states) {
			st, _ := states[name].(map[string]any)
			if c, ok := st["Comment"].(string); ok {
				parts := strings.Split(c, directive)
				for _, d := range parts[1:] {
					f := strings.Fields(d)
					s := &suppression{state: name}
					if len(f) > 0 && !strings.HasPrefix(d, ":") {
						s.rule = f[0]
						s.reason = strings.Join(f[1:], " ")
					}
					out = append(out, s)
				}
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if p, ok := st[k].(map[string]any); ok {
					walk(p)
				}
			}
			bs, _ := st["Branches"].([]any)
			for _, b := range bs {
				if p, ok := b.(map[string]any); ok {
					walk(p)
				}
			}
		}
	}
	walk(def)
	return out
}

// Suppress applies the suppressions of the definition's Comments and the
// baseline (nil for none) to findings. A suppressed finding stays in the
// list, marked with its kind and reason; a directive without a reason,
// with a rule that does not exist, or that matches nothing is reported as
// a bad-suppression warning (and one without a reason suppresses
// nothing). Entries of the baseline that match nothing are not reported:
// a fixed finding leaves the baseline stale, not wrong.
func Suppress(def map[string]any, fs []Finding, baseline *Baseline) []Finding {
	sups := suppressions(def)
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		for _, s := range sups {
			if s.state == f.State && s.rule == f.Rule && s.reason != "" {
				s.used = true
				if f.Suppressed == "" {
					f.Suppressed, f.Justification = SuppressedInSource, s.reason
				}
			}
		}
		if f.Suppressed == "" && baseline.has(f) {
			f.Suppressed, f.Justification = SuppressedBaseline, "recorded in the baseline"
		}
		out = append(out, f)
	}
	for _, s := range sups {
		var msg string
		switch {
		case s.rule == "" || severity[s.rule] == "" || s.rule == RuleBadSuppression:
			msg = fmt.Sprintf("%q names no rule of the check: write %s RULE-ID reason, with one of %s", directive+" "+s.rule, directive, strings.Join(Rules[:len(Rules)-1], ", "))
		case s.reason == "":
			msg = fmt.Sprintf("%s %s has no reason, so it suppresses nothing: say why the finding is accepted after the rule id", directive, s.rule)
		case !s.used:
			msg = fmt.Sprintf("%s %s matches no finding of this state: remove it", directive, s.rule)
		default:
			continue
		}
		out = append(out, Finding{Rule: RuleBadSuppression, Severity: SeverityWarning, State: s.state, Path: "$", Message: msg})
	}
	sortFindings(out)
	return out
}

func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(x, y Finding) int {
		return cmp.Or(strings.Compare(x.State, y.State), strings.Compare(x.Rule, y.Rule),
			strings.Compare(x.Path, y.Path), strings.Compare(x.Class, y.Class))
	})
}

// Baseline is a set of accepted findings, by fingerprint.
type Baseline struct {
	Version  int             `json:"version"`
	Findings []BaselineEntry `json:"findings"`
	set      map[string]bool
}

// BaselineEntry is one accepted finding; all but Fingerprint are there for
// the reader of the file.
type BaselineEntry struct {
	Fingerprint string `json:"fingerprint"`
	Rule        string `json:"rule"`
	State       string `json:"state"`
	Path        string `json:"path"`
	Class       string `json:"class"`
}

// ErrBaseline marks a baseline file that cannot be read.
var ErrBaseline = errors.New("check: invalid baseline")

// ReadBaseline reads a file written by WriteBaseline.
func ReadBaseline(r io.Reader) (*Baseline, error) {
	var b Baseline
	dec := json.NewDecoder(io.LimitReader(r, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBaseline, err)
	}
	if b.Version != 1 {
		return nil, fmt.Errorf("%w: version %d (want 1)", ErrBaseline, b.Version)
	}
	b.set = map[string]bool{}
	for _, e := range b.Findings {
		b.set[e.Fingerprint] = true
	}
	return &b, nil
}

func (b *Baseline) has(f Finding) bool { return b != nil && b.set[f.Fingerprint()] }

// WriteBaseline records the findings that are not suppressed (errors,
// warnings and infos) as accepted.
func WriteBaseline(w io.Writer, fs []Finding) error {
	b := Baseline{Version: 1, Findings: []BaselineEntry{}}
	for _, f := range fs {
		if f.Suppressed != "" || f.Rule == RuleBadSuppression {
			continue
		}
		b.Findings = append(b.Findings, BaselineEntry{Fingerprint: f.Fingerprint(), Rule: f.Rule, State: f.State, Path: f.Path, Class: f.Class})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}
