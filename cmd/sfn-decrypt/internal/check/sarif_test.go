package check

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
)

// TestSARIFSchema validates the SARIF output against the OASIS SARIF 2.1.0
// schema (testdata/sarif), and checks what code scanning needs: a region
// with startLine in the file where each state is written, a relative URI
// with a uriBaseId, the tool's version, the fingerprint, and rules with
// help.
func TestSARIFSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	schema, err := c.Compile("testdata/sarif/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "testdata/classes/config.json")
	files, _ := filepath.Glob("testdata/classes/*.asl.json")
	files = append(files, "testdata/sam/template.yaml")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			var d *stack.Definition
			opt := Options{Config: cfg}
			if filepath.Ext(file) == ".yaml" {
				l, err := LoadTemplate(file)
				if err != nil {
					t.Fatal(err)
				}
				d, opt.Functions, opt.Substitutions = l.Def, l.Functions, l.Substitutions
				opt.Config = testConfig(t, "testdata/config.json")
			} else {
				var err error
				if d, err = stack.LoadDefinition(file); err != nil {
					t.Fatal(err)
				}
				opt = optionsOf(cfg, d.Value)
			}
			fs, err := Check(d.Value, opt)
			if err != nil {
				t.Fatal(err)
			}
			fs = Suppress(d.Value, fs, nil)
			var b bytes.Buffer
			if err := WriteSARIF(&b, fs, SARIF{Definition: d, Root: "..", Version: "v1.2.3"}); err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Fatalf("not valid SARIF 2.1.0: %#v", err)
			}
			var log struct {
				Runs []struct {
					Tool struct {
						Driver struct {
							Version string `json:"version"`
							Rules   []struct {
								ID   string `json:"id"`
								Help struct {
									Text string `json:"text"`
								} `json:"help"`
							} `json:"rules"`
						} `json:"driver"`
					} `json:"tool"`
					Results []struct {
						RuleID    string `json:"ruleId"`
						RuleIndex int    `json:"ruleIndex"`
						Locations []struct {
							Physical struct {
								Artifact struct {
									URI       string `json:"uri"`
									URIBaseID string `json:"uriBaseId"`
								} `json:"artifactLocation"`
								Region struct {
									StartLine   int `json:"startLine"`
									StartColumn int `json:"startColumn"`
								} `json:"region"`
							} `json:"physicalLocation"`
							Logical []struct {
								Name string `json:"name"`
							} `json:"logicalLocations"`
						} `json:"locations"`
						Fingerprints map[string]string `json:"partialFingerprints"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(b.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			run := log.Runs[0]
			if run.Tool.Driver.Version != "v1.2.3" || len(run.Tool.Driver.Rules) != len(Rules) {
				t.Errorf("driver: version %q, %d rules", run.Tool.Driver.Version, len(run.Tool.Driver.Rules))
			}
			for _, r := range run.Tool.Driver.Rules {
				if r.Help.Text == "" {
					t.Errorf("rule %s has no help", r.ID)
				}
			}
			if len(run.Results) != len(fs) {
				t.Fatalf("%d results for %d findings", len(run.Results), len(fs))
			}
			for i, r := range run.Results {
				f := fs[i]
				loc := r.Locations[0]
				at := d.StateAt(f.State)
				if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
					t.Errorf("%s: ruleIndex %d names %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
				}
				if loc.Physical.Region.StartLine != at.Line || loc.Physical.Region.StartLine < 1 || loc.Physical.Region.StartColumn != at.Column {
					t.Errorf("%s at state %s: region %+v, want line %d column %d", r.RuleID, f.State, loc.Physical.Region, at.Line, at.Column)
				}
				wantURI := "check/" + filepath.ToSlash(at.File)
				if loc.Physical.Artifact.URI != wantURI || loc.Physical.Artifact.URIBaseID != "%SRCROOT%" {
					t.Errorf("artifact %+v, want %s relative to the root", loc.Physical.Artifact, wantURI)
				}
				if r.Fingerprints["sfnencFinding/v1"] != f.Fingerprint() {
					t.Errorf("partialFingerprints %v, want %s", r.Fingerprints, f.Fingerprint())
				}
			}
		})
	}
}

// TestSARIFLineOfState: the line is the state's, in the file it is
// written in, and moves with the state when lines are added above it,
// while the fingerprint stays.
func TestSARIFLineOfState(t *testing.T) {
	data, err := os.ReadFile("testdata/classes/into-token.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	find := func(data []byte) (int, string) {
		d, err := stack.ParseDefinition(data, "x.json")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := Check(d.Value, optionsOf(testConfig(t, "testdata/classes/config.json"), d.Value))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.State == "Hold" {
				return d.StateAt("Hold").Line, f.Fingerprint()
			}
		}
		t.Fatal("no finding at Hold")
		return 0, ""
	}
	line, fp := find(data)
	want := 1 + bytes.Count(data[:bytes.Index(data, []byte(`"Hold": {`))], []byte("\n"))
	if line != want {
		t.Errorf("Hold at line %d, want %d", line, want)
	}
	moved := append([]byte("\n\n\n"), data...)
	line2, fp2 := find(moved)
	if line2 != want+3 || fp2 != fp {
		t.Errorf("after 3 lines above: line %d fingerprint %s, want line %d and the same fingerprint %s", line2, fp2, want+3, fp)
	}
}

// TestArtifactURI: without --sarif-root, paths are relative to the
// nearest directory above the file that holds .git; outside a repository,
// to the working directory; escaped as a URI reference.
func TestArtifactURI(t *testing.T) {
	top := t.TempDir()
	if err := os.Mkdir(filepath.Join(top, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(top, "infra", "state machines")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "kyc#1.asl.json")
	if got, want := artifactURI(file, ""), "infra/state%20machines/kyc%231.asl.json"; got != want {
		t.Errorf("artifactURI = %q, want %q", got, want)
	}
	if got, want := artifactURI(file, filepath.Join(top, "infra")), "state%20machines/kyc%231.asl.json"; got != want {
		t.Errorf("artifactURI with a root = %q, want %q", got, want)
	}
}
