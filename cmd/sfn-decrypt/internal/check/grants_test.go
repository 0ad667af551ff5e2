package check

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/stack"
	"github.com/sfnenc/sfnenc/codec"
)

// grantFindings runs Grants on a template of testdata/grants and returns
// its findings as "rule state class" lines, and the findings.
func grantFindings(t *testing.T, cfgFile, file string, load func(string) (*stack.Stack, error)) ([]string, []Finding) {
	t.Helper()
	cfg, err := codec.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := load(file)
	if err != nil {
		t.Fatal(err)
	}
	fns := map[string]Function{}
	for _, f := range st.Functions {
		fns[f.Name] = FunctionFromEnv(f.Env)
	}
	fs := Grants(cfg, st, fns)
	var got []string
	for _, f := range fs {
		got = append(got, f.Rule+" "+f.State+" "+f.Class)
	}
	slices.Sort(got)
	return got, fs
}

// TestGrantRules: one template whose grants match its functions' classes,
// and one per rule that breaks it in one place (testdata/grants).
func TestGrantRules(t *testing.T) {
	notChecked := "kms-grant-not-checked NotifyFunction " // its managed policy
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"pass.yaml", []string{notChecked}},
		{"kms-grant-missing.yaml", []string{"kms-grant-missing ScreenFunction session", notChecked}},
		{"kms-grant-too-broad.yaml", []string{notChecked, "kms-grant-too-broad NotifyFunction identity"}},
		{"break-glass-encrypt-open.yaml", []string{"break-glass-encrypt-open BreakGlassKey ", notChecked}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			file := filepath.Join("testdata/grants", tc.file)
			got, fs := grantFindings(t, "testdata/grants/config.json", file, stack.LoadTemplate)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings mismatch (-want +got):\n%s", diff)
			}
			for _, f := range fs {
				if f.At.File != file || f.At.Line == 0 {
					t.Errorf("%s: placed at %v, want a line of %s", f.Rule, f.At, file)
				}
			}
		})
	}
}

// TestGrantRulesSharedRole: the Serverless Framework's one role per
// service gives every function what any of them needs; check says so,
// and shows the role: that fixes it.
func TestGrantRulesSharedRole(t *testing.T) {
	dir := t.TempDir()
	cfg, err := os.ReadFile("testdata/grants/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sfnenc.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `service: kyc
provider:
  name: aws
  iam:
    role:
      statements:
        - Effect: Allow
          Action: kms:Decrypt
          Resource: arn:aws:kms:eu-west-1:444455556666:key/1b4e28ba-2fa1-41d2-883f-0016d3cca427
          Condition:
            StringEquals:
              kms:EncryptionContext:sfnenc:class: [identity, contact]
functions:
  screen:
    handler: bootstrap
    environment: {SFNENC_CONFIG_FILE: sfnenc.json, SFNENC_CLASSES: identity, SFNENC_WRITES: "-"}
  notify:
    handler: bootstrap
    environment: {SFNENC_CONFIG_FILE: sfnenc.json, SFNENC_CLASSES: contact, SFNENC_WRITES: "-"}
stepFunctions:
  stateMachines:
    kyc:
      definition:
        StartAt: Screen
        States:
          Screen: {Type: Task, Resource: {"Fn::GetAtt": [screen, Arn]}, Next: Notify}
          Notify: {Type: Task, Resource: {"Fn::GetAtt": [notify, Arn]}, End: true}
`
	file := filepath.Join(dir, "serverless.yml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	got, fs := grantFindings(t, filepath.Join(dir, "sfnenc.json"), file, stack.LoadServerless)
	want := []string{"kms-grant-shared-role NotifyLambdaFunction ", "kms-grant-shared-role ScreenLambdaFunction ",
		"kms-grant-too-broad NotifyLambdaFunction identity", "kms-grant-too-broad ScreenLambdaFunction contact"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		if !strings.Contains(f.Message, "role: ") || !strings.Contains(f.Message, "one role") {
			t.Errorf("%s: %q does not say the role is shared and how to fix it", f.Rule, f.Message)
		}
	}
}
