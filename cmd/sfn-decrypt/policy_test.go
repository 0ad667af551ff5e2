package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

const exampleDir = "../../examples/identity-verification"

// policyCases are sfn-decrypt policy's golden cases: the example, and a
// second configuration with ESDK mode (with a bound business key), keyset
// mode and a break-glass key shared by both keyrings, and functions that
// declare SFNENC_WRITES, in each format.
var policyCases = []struct {
	name, dir string
	args      []string
}{
	{"example", exampleDir, []string{"--config", "config/sfnenc.json", "--template", "template.yaml",
		"--readers", "OperatorRole=identity,contact,verification,session", "--writers", "BackendServiceRole=identity,contact,verification",
		"--keyset-admins", "KeysetAdminRole", "--break-glass-role", "BreakGlassReaderRole"}},
	{"kyc", "testdata/policy", []string{"--config", "kyc.json", "--template", "kyc.template.yaml",
		"--readers", "kyc-operator=identity,contact,session", "--writers", "kyc-backend=contact",
		"--keyset-admins", "kyc-keys", "--break-glass-role", "kyc-break-glass"}},
	{"kyc-classes", "testdata/policy", []string{"--config", "kyc.json", "--classes", "screen=identity,notify=contact,session"}},
	{"kyc-serverless", "testdata/policy", []string{"--config", "kyc.json", "--serverless", "kyc.serverless.yml"}},
}

// TestPolicyGolden runs policy in each format on each case and compares
// stdout and stderr with the golden files testdata/policy/NAME.{json,yaml,tf}
// and NAME.FORMAT.stderr (-update rewrites them). Each output must also
// parse in its language.
func TestPolicyGolden(t *testing.T) {
	for _, c := range policyCases {
		for _, f := range []struct{ format, ext string }{{"json", "json"}, {"cloudformation", "yaml"}, {"terraform", "tf"}} {
			t.Run(c.name+"/"+f.format, func(t *testing.T) {
				t.Chdir(c.dir)
				out, errOut, code := runCmd(t, "", append([]string{"policy", "--format", f.format}, c.args...)...)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				back, _ := filepath.Abs(".")
				golden := filepath.Join(testdataPolicy(t, back), c.name+".golden."+f.ext)
				checkGolden(t, golden, out)
				checkGolden(t, filepath.Join(testdataPolicy(t, back), c.name+"."+f.format+".stderr"), errOut)
				switch f.format {
				case "json":
					var v struct {
						Roles map[string]struct {
							Version   string
							Statement []map[string]any
						} `json:"roles"`
						Keys map[string]any `json:"keys"`
					}
					if err := json.Unmarshal([]byte(out), &v); err != nil {
						t.Fatalf("output is not JSON: %v", err)
					}
					if len(v.Roles) == 0 || len(v.Keys) == 0 {
						t.Fatalf("no roles or keys: %s", out)
					}
				case "terraform":
					// No HCL parser is linked: check the block structure
					// (names unique, braces balanced outside strings).
					names := map[string]bool{}
					for _, m := range regexp.MustCompile(`(?m)^data "aws_iam_policy_document" "([a-z0-9_]+)" \{$`).FindAllStringSubmatch(out, -1) {
						if names[m[1]] {
							t.Errorf("block %s twice", m[1])
						}
						names[m[1]] = true
					}
					if len(names) == 0 {
						t.Fatalf("no aws_iam_policy_document block: %s", out)
					}
					depth, inStr := 0, false
					for i := 0; i < len(out); i++ {
						switch c := out[i]; {
						case inStr && c == '\\':
							i++
						case c == '"':
							inStr = !inStr
						case !inStr && c == '{':
							depth++
						case !inStr && c == '}':
							depth--
							if depth < 0 {
								t.Fatalf("unbalanced braces at byte %d", i)
							}
						}
					}
					if depth != 0 || inStr {
						t.Errorf("unbalanced braces or an open string at the end (depth %d)", depth)
					}
				case "cloudformation":
					var v map[string]map[string]any
					if err := yaml.Unmarshal([]byte(out), &v); err != nil {
						t.Fatalf("output is not YAML: %v", err)
					}
					if len(v["Resources"]) == 0 {
						t.Fatalf("no Resources: %s", out)
					}
				}
			})
		}
	}
}

// testdataPolicy is this package's testdata/policy, from a case's dir.
func testdataPolicy(t *testing.T, dir string) string {
	t.Helper()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if p := filepath.Join(d, "cmd", "sfn-decrypt", "testdata", "policy"); isDir(p) {
			return p
		}
	}
	t.Fatal("testdata/policy not found")
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// policyJSON runs policy --format json and decodes it.
func policyJSON(t *testing.T, dir string, args ...string) map[string]map[string]struct{ Statement []statementJSON } {
	t.Helper()
	t.Chdir(dir)
	out, errOut, code := runCmd(t, "", append([]string{"policy", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v map[string]map[string]struct{ Statement []statementJSON }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

type statementJSON struct {
	Sid       string
	Effect    string
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

// grants returns, for a role's statements, action -> classes allowed.
func grants(sts []statementJSON) map[string][]string {
	out := map[string][]string{}
	for _, s := range sts {
		a, _ := s.Action.(string)
		for _, c := range s.Condition["StringEquals"]["kms:EncryptionContext:sfnenc:class"].([]any) {
			if !slices.Contains(out[a], c.(string)) {
				out[a] = append(out[a], c.(string))
			}
		}
	}
	for a := range out {
		slices.Sort(out[a])
	}
	return out
}

// TestPolicyFollowsTheEnvironment: what each function of the second
// configuration may do follows its SFNENC_CLASSES and SFNENC_WRITES and
// the modes of its classes, and every grant names the class, the context
// and the exact context keys.
func TestPolicyFollowsTheEnvironment(t *testing.T) {
	v := policyJSON(t, "testdata/policy", "--config", "kyc.json", "--template", "kyc.template.yaml")
	want := map[string]map[string][]string{
		// writes identity (ESDK) and contact: data keys, and wrapping
		// under the break-glass key; no kms:Decrypt at all.
		"IntakeFunction": {"kms:GenerateDataKey": {"contact", "identity"}, "kms:Encrypt": {"contact", "identity"}},
		// reads identity; writes session, a keyset class: kms:Decrypt of
		// its keyset, and no kms:Encrypt (only keyset admins encrypt).
		"ScreenFunction": {"kms:Decrypt": {"identity", "session"}},
		// reads contact and session, writes nothing.
		"NotifyFunction": {"kms:Decrypt": {"contact", "session"}},
		// reads contact, and without SFNENC_WRITES writes every class.
		"ReviewFunction": {"kms:Decrypt": {"contact", "session"}, "kms:GenerateDataKey": {"contact", "identity"}, "kms:Encrypt": {"contact", "identity"}},
	}
	got := map[string]map[string][]string{}
	for name, p := range v["roles"] {
		got[name] = grants(p.Statement)
		for _, s := range p.Statement {
			c := s.Condition
			if c["StringEquals"]["kms:EncryptionContext:app"] != "kyc" || c["StringEquals"]["kms:EncryptionContext:stage"] != "prod" {
				t.Errorf("%s %s: no condition on the configured context: %v", name, s.Sid, c)
			}
			keys, _ := c["ForAllValues:StringEquals"]["kms:EncryptionContextKeys"].([]any)
			if len(keys) < 3 {
				t.Errorf("%s %s: context keys not pinned: %v", name, s.Sid, c)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants mismatch (-want +got):\n%s", diff)
	}
}

// TestPolicyBadInput: a function named twice, a class the configuration
// lacks, a function the template does not have, an environment that
// names an unknown class or leaves out the error class: exit 2 with a
// message that says what is wrong.
func TestPolicyBadInput(t *testing.T) {
	t.Chdir("testdata/policy")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	tpl, err := os.ReadFile("kyc.template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		tpl  string
		args []string
		want string
	}{
		{"function named twice", "", []string{"--classes", "screen=identity", "--classes", "screen=contact"}, "screen is named twice"},
		{"function named twice in one flag", "", []string{"--classes", "screen=identity,screen=contact"}, "screen is named twice"},
		{"reader named twice", "", []string{"--classes", "a=-", "--readers", "ops=contact,ops=identity"}, "ops is named twice"},
		{"class the configuration lacks", "", []string{"--classes", "screen=identity,payment"}, `class "payment" is not in the configuration`},
		{"reader class the configuration lacks", "", []string{"--classes", "a=-", "--readers", "ops=payment"}, `class "payment" is not in the configuration`},
		{"function the template lacks", "", []string{"--template", "kyc.template.yaml", "--classes", "Missing=identity"}, `has no function "Missing"`},
		{"template without functions", "AWSTemplateFormatVersion: \"2010-09-09\"\nResources: {}\n", []string{"--template", bad, "--classes", "Screen=identity"}, `has no function "Screen"`},
		{"unknown class in SFNENC_WRITES", strings.Replace(string(tpl), "SFNENC_WRITES: session", "SFNENC_WRITES: sessions", 1), []string{"--template", bad}, `class "sessions" of its environment is not in the configuration`},
		{"error class not written", strings.Replace(string(tpl), "SFNENC_WRITES: session", "SFNENC_WRITES: identity", 1), []string{"--template", bad}, `SFNENC_ERROR_CLASS "session" is not in SFNENC_WRITES`},
		{"no functions at all", "", []string{"--readers", "ops=contact"}, "policy needs --template"},
		{"bad format", "", []string{"--classes", "a=-", "--format", "xml"}, "--format must be"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.tpl != "" {
				if err := os.WriteFile(bad, []byte(c.tpl), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, errOut, code := runCmd(t, "", append([]string{"policy", "--config", "kyc.json"}, c.args...)...)
			if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 2, %q, nothing on stdout", code, errOut, out, c.want)
			}
		})
	}
}
