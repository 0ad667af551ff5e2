package check

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/codec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the findings")

// want is a finding as a golden definition states it next to the state
// that causes it, in the state's Comment, with its severity when it is not
// the rule's own (a speculative error is a warning):
//
//	"Comment": "want: RULE PATH CLASS | RULE PATH CLASS warning"
type want struct{ Rule, Severity, State, Path, Class string }

// wantsOf collects the expected findings of a definition, nested
// machines included.
func wantsOf(t *testing.T, m map[string]any) []want {
	t.Helper()
	var out []want
	states, _ := m["States"].(map[string]any)
	for _, name := range sortedKeys(states) {
		st, _ := states[name].(map[string]any)
		if c, ok := st["Comment"].(string); ok {
			if _, list, ok := strings.Cut(c, "want: "); ok {
				for _, w := range strings.Split(list, "|") {
					f := strings.Fields(w)
					if len(f) == 3 {
						f = append(f, severity[f[0]])
					}
					if len(f) != 4 {
						t.Fatalf("state %s: bad want %q", name, w)
					}
					out = append(out, want{f[0], f[3], name, f[1], f[2]})
				}
			}
		}
		if p, ok := st["ItemProcessor"].(map[string]any); ok {
			out = append(out, wantsOf(t, p)...)
		}
		if p, ok := st["Iterator"].(map[string]any); ok {
			out = append(out, wantsOf(t, p)...)
		}
		bs, _ := st["Branches"].([]any)
		for _, b := range bs {
			out = append(out, wantsOf(t, b.(map[string]any))...)
		}
	}
	return out
}

// checkFile checks a golden definition with the options of its Comment.
func checkFile(t *testing.T, cfg *codec.Config, file string) (map[string]any, []Finding) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	def, err := ParseDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(def, optionsOf(cfg, def))
	if err != nil {
		t.Fatal(err)
	}
	return def, fs
}

var optionWords = regexp.MustCompile(`\b(classes|errorclass|accept|plain): ([^;]*)`)

// optionsOf reads the options of a golden definition from its Comment:
// functionsOf, and "input: plaintext".
func optionsOf(cfg *codec.Config, def map[string]any) Options {
	c, _ := def["Comment"].(string)
	return Options{Config: cfg, Functions: functionsOf(def), PlaintextInput: strings.Contains(c, "input: plaintext")}
}

// functionsOf reads "classes: f=a,b; g=-", "errorclass: f=a",
// "accept: f" (SFNENC_ACCEPT_PLAINTEXT) and "plain: f" (no middleware)
// from the machine's Comment, as --classes or a template would give them.
func functionsOf(m map[string]any) map[string]Function {
	fns := map[string]Function{}
	c, _ := m["Comment"].(string)
	for _, m := range optionWords.FindAllStringSubmatch(c, -1) {
		kind, list := m[1], m[2]
		for _, kv := range strings.Fields(list) {
			name, v, _ := strings.Cut(kv, "=")
			f := fns[name]
			switch kind {
			case "classes":
				f.Middleware, f.Classes, f.Explicit = true, ParseClasses(v), true
			case "errorclass":
				f.Middleware, f.ErrorClass = true, v
			case "accept":
				f.Middleware, f.AcceptPlaintext = true, true
			case "plain":
				f.Middleware = false
			}
			fns[name] = f
		}
	}
	return fns
}

func got(fs []Finding) []want {
	out := []want{}
	for _, f := range fs {
		out = append(out, want{f.Rule, f.Severity, f.State, f.Path, f.Class})
	}
	return out
}

func sortWants(ws []want) []want {
	slices.SortFunc(ws, func(a, b want) int {
		return strings.Compare(a.State+" "+a.Rule+" "+a.Path+" "+a.Class+" "+a.Severity, b.State+" "+b.Rule+" "+b.Path+" "+b.Class+" "+b.Severity)
	})
	return ws
}

func testConfig(t testing.TB, path string) *codec.Config {
	t.Helper()
	cfg, err := codec.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestGolden checks every testdata/*.asl.json: the findings are exactly
// those its states' Comments want.
func TestGolden(t *testing.T) {
	for _, dir := range []string{"testdata", "testdata/classes"} {
		golden(t, dir)
	}
}

// golden checks the definitions of one directory with its config.json.
func golden(t *testing.T, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.asl.json"))
	if len(files) == 0 {
		t.Fatalf("no %s/*.asl.json", dir)
	}
	cfg := testConfig(t, filepath.Join(dir, "config.json"))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			def, fs := checkFile(t, cfg, file)
			if diff := cmp.Diff(sortWants(wantsOf(t, def)), sortWants(got(fs))); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
				for _, f := range fs {
					t.Logf("%+v", f)
				}
			}
		})
	}
}

// TestTemplate reads a SAM template in short form: the definition from
// DefinitionUri (YAML), its substitutions, and the functions' classes.
func TestTemplate(t *testing.T) {
	l, err := LoadTemplate("testdata/sam/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantFns := map[string]Function{
		"screen-applicant": {Middleware: true, Classes: []string{"identity", "document"}, Explicit: true},
		"PlainFunction":    {Middleware: true},
		"LegacyFunction":   {},
	}
	if diff := cmp.Diff(wantFns, l.Functions); diff != "" {
		t.Errorf("functions mismatch (-want +got):\n%s", diff)
	}
	fs, err := Check(l.Definition, Options{Config: testConfig(t, "testdata/config.json"), Functions: l.Functions, Substitutions: l.Substitutions})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortWants(wantsOf(t, l.Definition)), sortWants(got(fs))); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// TestExample: the example's state machine, with its template, has no
// finding at all.
func TestExample(t *testing.T) {
	dir := "../../../../examples/identity-verification"
	l, err := LoadTemplate(filepath.Join(dir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Functions) != 6 {
		t.Errorf("template has %d functions, want 6", len(l.Functions))
	}
	if l.Functions["WaitIdentificationFunction"].Classes == nil || len(l.Functions["WaitIdentificationFunction"].Classes) != 0 {
		t.Errorf(`WaitIdentificationFunction: SFNENC_CLASSES "-" read as %v`, l.Functions["WaitIdentificationFunction"].Classes)
	}
	fs, err := Check(l.Definition, Options{Config: testConfig(t, filepath.Join(dir, "config/sfnenc.json")), Functions: l.Functions, Substitutions: l.Substitutions})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]want{}, got(fs)); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// TestExampleChanged: the example's state machine with three mistakes (the
// README's sample report, kept in testdata/example/changed.golden.txt).
func TestExampleChanged(t *testing.T) {
	dir := "../../../../examples/identity-verification"
	l, err := LoadTemplate(filepath.Join(dir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/example/changed.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := ParseDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(def, Options{Config: testConfig(t, filepath.Join(dir, "config/sfnenc.json")), Functions: l.Functions, Substitutions: l.Substitutions})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteText(&b, fs); err != nil {
		t.Fatal(err)
	}
	golden := "testdata/example/changed.golden.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
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
	if !HasErrors(fs) || len(fs) != 3 {
		t.Errorf("%d findings, want the 3 errors the changes make", len(fs))
	}
}

// TestTemplateJSON reads a CloudFormation template in JSON, with the
// definition in DefinitionString under Fn::Sub.
func TestTemplateJSON(t *testing.T) {
	l, err := LoadTemplate("testdata/cfn/template.json")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]Function{"sender": {Middleware: true, Classes: []string{"contact", "identity"}, ErrorClass: "contact", Explicit: true}}, l.Functions); diff != "" {
		t.Errorf("functions mismatch (-want +got):\n%s", diff)
	}
	fs, err := Check(l.Definition, Options{Config: testConfig(t, "testdata/config.json"), Functions: l.Functions, Substitutions: l.Substitutions})
	if err != nil {
		t.Fatal(err)
	}
	want := []want{
		{RuleClassNeverReaches, SeverityInfo, "Send", "$", "identity"},
		{RuleUnselectedPath, SeverityError, "Send", "$.to", "contact"},
	}
	if diff := cmp.Diff(sortWants(want), sortWants(got(fs))); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// TestAdviceNeverSelectsRoot: no finding advises a selector that would
// encrypt a whole input (the root, or every element of it) as one token.
func TestAdviceNeverSelectsRoot(t *testing.T) {
	bad := regexp.MustCompile(`add "\$(\[\*\])*" to the select list`)
	seen := 0
	for _, dir := range []string{"testdata", "testdata/classes"} {
		cfg := testConfig(t, filepath.Join(dir, "config.json"))
		files, _ := filepath.Glob(filepath.Join(dir, "*.asl.json"))
		for _, file := range files {
			_, fs := checkFile(t, cfg, file)
			for _, f := range fs {
				if f.Rule != RuleUnselectedPath {
					continue
				}
				if bad.MatchString(f.Message) {
					t.Errorf("%s: %s: advises selecting the whole input: %s", file, f.State, f.Message)
				}
				if f.Path == "$" {
					seen++
					if !strings.Contains(f.Message, "never select the whole input") {
						t.Errorf("%s: %s: the advice for a whole-input token does not say what to do instead: %s", file, f.State, f.Message)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Error("no golden definition has a token as a whole function input")
	}
}

// TestFunctionFromEnv: what a function's environment says of it. A
// function with the middleware's Lambda layer (AWS_LAMBDA_EXEC_WRAPPER) is
// configured by the same variables as a Go one, and read the same way.
func TestFunctionFromEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want Function
	}{
		{"no sfnenc", map[string]string{"LOG_LEVEL": "debug"}, Function{}},
		{"Go middleware", map[string]string{"SFNENC_CONFIG_FILE": "sfnenc.json", "SFNENC_CLASSES": "identity, contact", "SFNENC_ERROR_CLASS": "contact"},
			Function{Middleware: true, Classes: []string{"identity", "contact"}, ErrorClass: "contact", Explicit: true}},
		{"Lambda layer", map[string]string{"AWS_LAMBDA_EXEC_WRAPPER": "/opt/sfnenc-wrapper", "SFNENC_CONFIG_FILE": "/opt/sfnenc.json", "SFNENC_ACCEPT_PLAINTEXT": "TRUE"},
			Function{Middleware: true, AcceptPlaintext: true}},
		{"classes from a parameter", map[string]string{"SFNENC_CONFIG": "{}", "SFNENC_CLASSES": "${SFNENC_CLASSES}"}, Function{Middleware: true}},
		{"none", map[string]string{"SFNENC_CLASSES": "-", "SFNENC_ACCEPT_PLAINTEXT": "false"}, Function{Middleware: true, Classes: []string{}, Explicit: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FunctionFromEnv(tt.env)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlaintextWording: a plaintext-at-selected-path finding begins with
// the words of the middleware's codec.ContractError for the same place,
// class and value, so that the error an operator later sees in history is
// the one the check predicted.
func TestPlaintextWording(t *testing.T) {
	cfg := testConfig(t, "testdata/classes/config.json")
	for _, file := range []string{"testdata/classes/plaintext.asl.json", "testdata/classes/plaintext-jsonata.asl.json"} {
		_, fs := checkFile(t, cfg, file)
		n := 0
		for _, f := range fs {
			if f.Rule != RulePlaintextAtSelected || f.Severity != SeverityError {
				continue
			}
			n++
			found, rest, ok := strings.Cut(f.Message, " at /")
			if !ok {
				t.Fatalf("%s: %s: no pointer in %q", file, f.State, f.Message)
			}
			ptr := "/" + strings.Fields(rest)[0]
			ptr = strings.TrimSuffix(ptr, ",")
			want := strings.TrimPrefix((&codec.ContractError{Pointer: ptr, Class: f.Class, Found: found}).Error(), "codec: ")
			if !strings.HasPrefix(f.Message, want+":") {
				t.Errorf("%s: %s: message %q does not begin with the middleware's %q", file, f.State, f.Message, want)
			}
			if !strings.Contains(f.Message, "sfnenc.ContractError") {
				t.Errorf("%s: %s: message does not name the error type", file, f.State)
			}
		}
		if n == 0 {
			t.Errorf("%s: no plaintext-at-selected-path error", file)
		}
	}
}
