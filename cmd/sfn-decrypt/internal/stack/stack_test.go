package stack

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJSONStrict: JSON is read as JSON (a syntax error says json and
// where), never passed to the YAML reader, which accepts trailing commas.
func TestJSONStrict(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"trailing comma", "{\"StartAt\": \"A\",\n \"States\": {},\n}", "json: line 3, column 1: invalid character '}' looking for beginning of object key string"},
		{"trailing comma in array", `{"a": [1, 2,]}`, "json: line 1, column 13: invalid character ']' looking for beginning of value"},
		{"duplicate member", "{\"States\": {},\n  \"States\": {}}", `json: line 2, column 3: duplicate member "States"`},
		{"cut off", `{"StartAt": `, "json: line 1, column 13: unexpected end of JSON input"},
		{"data after", `{} {}`, "json: line 1, column 4: data after the JSON value"},
		{"not an object", `[1]`, "not an object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDefinition([]byte(tt.doc), "d.json")
			if !errors.Is(err, ErrDefinition) || !strings.HasSuffix(err.Error(), tt.want) || strings.Contains(err.Error(), "yaml") {
				t.Errorf("err = %v, want ErrDefinition ending %q", err, tt.want)
			}
		})
	}
}

func TestDefinitionTooLarge(t *testing.T) {
	data := []byte(`{"StartAt": "A", "States": {}, "Comment": "` + strings.Repeat("x", MaxDefinition) + `"}`)
	if _, err := ParseDefinition(data, "big.json"); !errors.Is(err, ErrDefinition) || !strings.Contains(err.Error(), "more than the 1048576 bytes Step Functions accepts") {
		t.Errorf("err = %v", err)
	}
}

// TestStatePositions: where each state is written, nested ones too, in
// JSON and YAML.
func TestStatePositions(t *testing.T) {
	js := "{\n  \"StartAt\": \"M\",\n  \"States\": {\n    \"M\": {\"Type\": \"Map\", \"ItemProcessor\": {\"StartAt\": \"In\", \"States\": {\n      \"In\": {\"Type\": \"Pass\", \"End\": true}}}, \"Next\": \"P\"},\n    \"P\": {\"Type\": \"Parallel\", \"Branches\": [{\"StartAt\": \"B\", \"States\": {\"B\": {\"Type\": \"Succeed\"}}}], \"End\": true}\n  }\n}"
	d, err := ParseDefinition([]byte(js), "d.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Pos{"M": {"d.json", 4, 5}, "In": {"d.json", 5, 7}, "P": {"d.json", 6, 5}, "B": {"d.json", 6, 72}}
	if diff := cmp.Diff(want, d.States); diff != "" {
		t.Errorf("JSON positions mismatch (-want +got):\n%s", diff)
	}
	ym := "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: B\n  B:\n    Type: Succeed\n"
	d, err = ParseDefinition([]byte(ym), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]Pos{"A": {"d.yaml", 3, 3}, "B": {"d.yaml", 6, 3}}, d.States); diff != "" {
		t.Errorf("YAML positions mismatch (-want +got):\n%s", diff)
	}
}

// TestTemplateSubList: DefinitionString as Fn::Sub of a list, in a
// literal block: the variables of the list and ${Function.Arn} name the
// functions, and the states' lines are those of the template.
func TestTemplateSubList(t *testing.T) {
	s, err := LoadTemplate("testdata/cfn-sub-list.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.StateMachine("")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Substitutions["NotifyArn"]; got != "arn:aws:lambda:region:account:function:Notify" {
		t.Errorf("NotifyArn = %q", got)
	}
	if got := m.Substitutions["Screen.Arn"]; got != "arn:aws:lambda:region:account:function:screen-fn" {
		t.Errorf("Screen.Arn = %q", got)
	}
	want := map[string]Pos{"Screen": {"testdata/cfn-sub-list.yaml", 29, 15}, "Notify": {"testdata/cfn-sub-list.yaml", 34, 15}}
	if diff := cmp.Diff(want, m.Definition.States); diff != "" {
		t.Errorf("positions mismatch (-want +got):\n%s", diff)
	}
	if got := s.Function("screen-fn").Env["SFNENC_ACCEPT_PLAINTEXT"]; got != "true" {
		t.Errorf("SFNENC_ACCEPT_PLAINTEXT = %q, want true (a YAML boolean, written as a string)", got)
	}
	if got := s.Function("Notify").Env["SFNENC_CLASSES"]; got != "${SFNENC_CLASSES}" {
		t.Errorf("SFNENC_CLASSES from !Ref = %q, want a placeholder", got)
	}
}

// TestTemplateChoose: a template of two state machines needs an id; an
// inline one with !GetAtt and one from DefinitionUri.
func TestTemplateChoose(t *testing.T) {
	s, err := LoadTemplate("testdata/sam-two.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var amb *AmbiguousError
	if _, err := s.StateMachine(""); !errors.As(err, &amb) || err.Error() != "testdata/sam-two.yaml has 2 state machines (First, Second)" {
		t.Errorf("err = %v", err)
	}
	first, err := s.StateMachine("First")
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Definition.Value["States"].(map[string]any)["Take"].(map[string]any)["Resource"]; got != "arn:aws:lambda:region:account:function:Intake" {
		t.Errorf("inline !GetAtt Resource = %v", got)
	}
	if first.Definition.States["Take"].Line != 20 {
		t.Errorf("Take at %+v, want line 20 of the template", first.Definition.States["Take"])
	}
	second, err := s.StateMachine("Second")
	if err != nil {
		t.Fatal(err)
	}
	if p := second.Definition.States["Take"]; p.File != "testdata/second.asl.json" || p.Line != 4 {
		t.Errorf("Take at %+v, want line 4 of the DefinitionUri file", p)
	}
	if got := s.Function("Intake").Env; got["SFNENC_CONFIG_FILE"] != "sfnenc.json" || got["SFNENC_ACCEPT_PLAINTEXT"] != "TRUE" {
		t.Errorf("Intake env = %v, want Globals and its own", got)
	}
}

// TestServerless reads serverless.yml: functions by key and logical id,
// names with variables, provider.environment, inline and file
// definitions, and variables it cannot resolve left as placeholders.
func TestServerless(t *testing.T) {
	s, err := LoadServerless("testdata/serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	var got []Function
	for _, f := range s.Functions {
		g := *f
		g.At = Pos{}
		got = append(got, g)
	}
	want := []Function{
		{ID: "check-identity", LogicalID: "CheckDashidentityLambdaFunction", Name: "kyc-prod-check-identity", Env: map[string]string{"SFNENC_CONFIG_FILE": "sfnenc.json", "SFNENC_CLASSES": "identity"}, SharedRole: true},
		{ID: "notify", LogicalID: "NotifyLambdaFunction", Name: "kyc-prod-notifier", Env: map[string]string{"SFNENC_CONFIG_FILE": "sfnenc.json", "SFNENC_ERROR_CLASS": "contact"}, SharedRole: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("functions mismatch (-want +got):\n%s", diff)
	}
	var amb *AmbiguousError
	if _, err := s.StateMachine(""); !errors.As(err, &amb) {
		t.Errorf("err = %v, want the two state machines listed", err)
	}
	on, err := s.StateMachine("onboarding")
	if err != nil {
		t.Fatal(err)
	}
	states := on.Definition.Value["States"].(map[string]any)
	if got := states["Check"].(map[string]any)["Resource"]; got != "arn:aws:lambda:region:account:function:kyc-prod-check-identity" {
		t.Errorf("Check Resource = %v", got)
	}
	params := states["Notify"].(map[string]any)["Parameters"].(map[string]any)
	if got := params["FunctionName"]; got != "arn:aws:lambda:region:account:function:kyc-prod-notifier" {
		t.Errorf("FunctionName = %v", got)
	}
	payload := params["Payload"].(map[string]any)
	if payload["table"] != "people-prod" || payload["region"] != "${aws:region}" {
		t.Errorf("Payload = %v, want the custom variable resolved and aws:region left", payload)
	}
	if p := on.Definition.States["Notify"]; p.Line != 29 {
		t.Errorf("Notify at %+v, want line 29", p)
	}
	off, err := s.StateMachine("offboarding")
	if err != nil {
		t.Fatal(err)
	}
	if got := off.Definition.Value["States"].(map[string]any)["Forget"].(map[string]any)["Resource"]; got != "arn:aws:lambda:#{AWS::Region}:#{AWS::AccountId}:function:kyc-prod-check-identity" {
		t.Errorf("Forget Resource = %v", got)
	}
	if p := off.Definition.States["Forget"]; p.File != "testdata/offboarding.asl.yaml" || p.Line != 3 {
		t.Errorf("Forget at %+v", p)
	}
}

// TestFoldedDefinition: a definition in a folded YAML string keeps no line
// per state: every state is placed at the definition's key.
func TestFoldedDefinition(t *testing.T) {
	tpl := "Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    Properties:\n      DefinitionString: >\n        {\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Succeed\"}}}\n"
	path := t.TempDir() + "/t.yaml"
	if err := os.WriteFile(path, []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.StateMachine("")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Definition.StateAt("A"); got != (Pos{File: path, Line: 5, Column: 7}) {
		t.Errorf("A at %+v, want the DefinitionString key (line 5, column 7)", got)
	}
}

// TestJoinDefinition: a DefinitionString under Fn::Join is read, its
// function ARNs resolved; its states are placed at the key.
func TestJoinDefinition(t *testing.T) {
	tpl := `{"Resources": {
  "F": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "fn"}},
  "M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
    "DefinitionString": {"Fn::Join": ["", ["{\"StartAt\": \"A\", \"States\": {\"A\": {\"Type\": \"Task\", \"Resource\": \"", {"Fn::GetAtt": ["F", "Arn"]}, "\", \"End\": true}}}"]]}}}}}`
	path := t.TempDir() + "/t.json"
	if err := os.WriteFile(path, []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.StateMachine("")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Definition.Value["States"].(map[string]any)["A"].(map[string]any)["Resource"]; got != "arn:aws:lambda:region:account:function:fn" {
		t.Errorf("Resource = %v", got)
	}
	if got := m.Definition.StateAt("A"); got.Line != 4 || got.File != path {
		t.Errorf("A at %+v, want the DefinitionString key (line 4)", got)
	}
}
