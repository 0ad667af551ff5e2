package check

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
)

// TestOutputs compares the three outputs with golden files (rewrite them
// with -update), checks that the SARIF log has one result per finding, and
// that no literal of the definition (CANARY-7731, a value a Choice compares
// with) appears in any output.
func TestOutputs(t *testing.T) {
	cfg := testConfig(t, "testdata/config.json")
	for _, name := range []string{"jsonpath", "jsonata"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".asl.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("CANARY-7731")) {
			t.Fatalf("%s.asl.json lost its canary", name)
		}
		def, err := ParseDefinition(data)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := Check(def, Options{Config: cfg, Functions: functionsOf(def)})
		if err != nil {
			t.Fatal(err)
		}
		for ext, write := range map[string]func(*bytes.Buffer) error{
			"txt":  func(b *bytes.Buffer) error { return WriteText(b, fs) },
			"json": func(b *bytes.Buffer) error { return WriteJSON(b, fs) },
			"sarif": func(b *bytes.Buffer) error {
				d, err := stack.LoadDefinition(filepath.Join("testdata", name+".asl.json"))
				if err != nil {
					return err
				}
				return WriteSARIF(b, fs, SARIF{Definition: d, Root: ".", Version: "test"})
			},
		} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "CANARY-7731") {
				t.Errorf("%s.%s: the canary literal is in the output", name, ext)
			}
			golden := filepath.Join("testdata", name+".golden."+ext)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
			if ext == "sarif" {
				var log struct {
					Version string `json:"version"`
					Runs    []struct {
						Results []struct {
							RuleID string `json:"ruleId"`
							Level  string `json:"level"`
						} `json:"results"`
					} `json:"runs"`
				}
				if err := json.Unmarshal(b.Bytes(), &log); err != nil {
					t.Fatal(err)
				}
				if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(fs) {
					t.Errorf("SARIF: version %q, %d runs, want 2.1.0 with one run of %d results", log.Version, len(log.Runs), len(fs))
				}
			}
		}
	}
}

// TestNoLiteralInOutput: the literals a definition builds (the canary in
// plaintext.asl.json is the plaintext a state puts where a rule selects)
// appear in no output, whatever the finding says about them.
func TestNoLiteralInOutput(t *testing.T) {
	cfg := testConfig(t, "testdata/classes/config.json")
	files, _ := filepath.Glob("testdata/classes/*.asl.json")
	canaries := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		canaries += strings.Count(string(data), "CANARY-7731")
		d, err := stack.LoadDefinition(file)
		if err != nil {
			t.Fatal(err)
		}
		_, fs := checkFile(t, cfg, file)
		var b bytes.Buffer
		for _, write := range []func() error{
			func() error { return WriteText(&b, fs) },
			func() error { return WriteJSON(&b, fs) },
			func() error { return WriteSARIF(&b, fs, SARIF{Definition: d}) },
			func() error { return WriteBaseline(&b, fs) },
		} {
			if err := write(); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(b.String(), "CANARY-7731") {
			t.Errorf("%s: a literal of the definition is in the output", file)
		}
	}
	if canaries == 0 {
		t.Fatal("no canary in testdata/classes")
	}
}
