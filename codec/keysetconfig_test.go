package codec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testARN = "arn:aws:kms:eu-west-2:111122223333:key/11111111-2222-3333-4444-555555555555"

func TestKeysetConfig(t *testing.T) {
	rule := `"rules":[{"class":"identity","keyring":"ks","select":["$.ssn"]%s}]`
	for _, tt := range []struct {
		name, keyring, ruleExtra string
		wantErr                  string // "" for a valid configuration
	}{
		{"valid", `{"kmsKeyset":{"keyArn":"` + testARN + `","dir":"keysets"}}`, "", ""},
		{"valid with break-glass", `{"kmsKeyset":{"keyArn":"` + testARN + `","breakGlassKeyArns":["arn:aws:kms:us-east-1:444455556666:key/k"],"dir":"keysets"}}`, "", ""},
		{"no dir", `{"kmsKeyset":{"keyArn":"` + testARN + `"}}`, "", "keyrings.ks: kmsKeyset: no dir"},
		{"alias", `{"kmsKeyset":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:alias/a","dir":"k"}}`, "", "is an alias"},
		{"key twice", `{"kmsKeyset":{"keyArn":"` + testARN + `","breakGlassKeyArns":["` + testARN + `"],"dir":"k"}}`, "", "appears twice"},
		{"with kms too", `{"kms":{"keyArn":"` + testARN + `"},"kmsKeyset":{"keyArn":"` + testARN + `","dir":"k"}}`, "", "not several"},
		{"unknown field", `{"kmsKeyset":{"keyArn":"` + testARN + `","dir":"k","extra":1}}`, "", "unknown field"},
		{"esdk format", `{"kmsKeyset":{"keyArn":"` + testARN + `","dir":"k"}}`, `,"format":"esdk"`, "needs a kms keyring"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := `{"keyrings":{"ks":` + tt.keyring + `},` + strings.Replace(rule, "%s", tt.ruleExtra, 1) + `}`
			_, err := ParseConfig([]byte(js))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseConfig error = %v, want ErrConfig with %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeysetDirRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "sfnenc.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	js := `{"keyrings":{"ks":{"kmsKeyset":{"keyArn":"` + testARN + `","dir":"keysets"}},"abs":{"kmsKeyset":{"keyArn":"` + testARN + `","dir":"/srv/keysets"}}},
	"rules":[{"class":"identity","keyring":"ks","select":["$.ssn"]}]}`
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.KeysetDir("ks"), filepath.Join(dir, "sub", "keysets"); got != want {
		t.Errorf("KeysetDir = %q, want %q", got, want)
	}
	if got := cfg.KeysetDir("abs"); got != "/srv/keysets" {
		t.Errorf("KeysetDir(abs) = %q", got)
	}
	if got := cfg.KeysetDir("none"); got != "" {
		t.Errorf("KeysetDir(none) = %q, want empty", got)
	}
}
