package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusCase is one state machine of testdata/corpus: a public definition
// (or a lookalike of one whose licence does not allow a copy), the
// configuration a careful adopter would write, and the errors a reviewer
// judged: those to fix, and those raised that are not.
type corpusCase struct {
	Source       string            `json:"source"`
	Licence      string            `json:"licence"`
	Lookalike    bool              `json:"lookalike"`
	Definition   string            `json:"definition"`
	Template     string            `json:"template"`
	Serverless   string            `json:"serverless"`
	StateMachine string            `json:"stateMachine"`
	Classes      map[string]string `json:"classes"`
	Input        string            `json:"input"`
	// Fix are the errors a reviewer would fix: "RULE STATE-PATH-CLASS" as
	// "RULE|STATE|PATH|CLASS".
	Fix []string `json:"fix"`
	// False are errors the checker raises that a reviewer would not fix,
	// with why.
	False []struct {
		Finding string `json:"finding"`
		Why     string `json:"why"`
	} `json:"false"`
}

// TestCorpus runs the checker on each case of testdata/corpus and
// measures it as a CI gate: every error a reviewer would fix is raised
// (no miss), every error raised is judged, and at least 9 in 10 of the
// errors raised are ones to fix.
func TestCorpus(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/corpus/*/case.json")
	if len(dirs) < 10 {
		t.Fatalf("%d corpus cases, want at least 10", len(dirs))
	}
	var raised, judgedTrue, lookalikes int
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c corpusCase
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatal(err)
			}
			if c.Source == "" || c.Licence == "" {
				t.Fatal("a corpus case records its source and licence")
			}
			if c.Lookalike {
				lookalikes++
			}
			src := Source{StateMachine: c.StateMachine}
			for _, p := range []struct {
				to   *string
				name string
			}{{&src.Definition, c.Definition}, {&src.Template, c.Template}, {&src.Serverless, c.Serverless}} {
				if p.name != "" {
					*p.to = filepath.Join(dir, p.name)
				}
			}
			l, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{Config: testConfig(t, filepath.Join(dir, "config.json")), Functions: l.Functions, Substitutions: l.Substitutions, PlaintextInput: c.Input == "plaintext"}
			if opt.Functions == nil {
				opt.Functions = map[string]Function{}
			}
			for name, cs := range c.Classes {
				f := opt.Functions[name]
				f.Middleware, f.Classes, f.Explicit = true, ParseClasses(cs), true
				opt.Functions[name] = f
			}
			fs, err := Check(l.Definition, opt)
			if err != nil {
				t.Fatal(err)
			}
			fs = Suppress(l.Definition, fs, nil)
			var errs []string
			for _, f := range fs {
				if f.Severity == SeverityError && f.Suppressed == "" {
					errs = append(errs, f.Rule+"|"+f.State+"|"+f.Path+"|"+f.Class)
				}
			}
			falses := []string{}
			for _, x := range c.False {
				if x.Why == "" {
					t.Errorf("false finding %s has no reason", x.Finding)
				}
				falses = append(falses, x.Finding)
			}
			for _, w := range c.Fix {
				if !slices.Contains(errs, w) {
					t.Errorf("missed: %s", w)
				}
			}
			for _, e := range errs {
				switch {
				case slices.Contains(c.Fix, e):
					judgedTrue++
				case slices.Contains(falses, e):
				default:
					t.Errorf("raised and not judged: %s", e)
					for _, f := range fs {
						if f.Rule+"|"+f.State+"|"+f.Path+"|"+f.Class == e {
							t.Logf("  %s", f.Message)
						}
					}
				}
			}
			for _, x := range falses {
				if !slices.Contains(errs, x) {
					t.Errorf("judged false but no longer raised (remove it): %s", x)
				}
			}
			raised += len(errs)
		})
	}
	if raised == 0 {
		t.Fatal("the corpus raises no error")
	}
	precision := float64(judgedTrue) / float64(raised)
	t.Logf("corpus: %d cases (%d lookalikes), %d errors raised, %d judged true, precision %.2f", len(dirs), lookalikes, raised, judgedTrue, precision)
	if precision < 0.9 {
		t.Errorf("precision %.2f, want at least 0.9", precision)
	}
}
