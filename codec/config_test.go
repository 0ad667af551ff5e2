package codec

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConfigNamesMatchExactly: encoding/json alone takes "keyARN" for
// "keyArn" (it matches names without case) while it refuses "keyArm". A
// configuration is read with exact names: a case variant is refused, named,
// with the spelling it was probably meant to have.
func TestConfigNamesMatchExactly(t *testing.T) {
	const arn = "arn:aws:kms:eu-west-2:111122223333:key/0d7c4f4e-58a1-4c34-9a38-2f1d4b0b6c21"
	tests := []struct {
		name, cfg, want string
	}{
		{"exact", `{"keyrings":{"main":{"kms":{"keyArn":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","select":["$.a"]}]}`, ""},
		{"key ARN in capitals", `{"keyrings":{"main":{"kms":{"keyARN":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","select":["$.a"]}]}`,
			`codec: configuration: keyrings.main.kms.keyARN: unknown field "keyARN" (names are case-sensitive: did you mean "keyArn"?)`},
		{"misspelt", `{"keyrings":{"main":{"kms":{"keyArm":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","select":["$.a"]}]}`,
			`codec: configuration: keyrings.main.kms.keyArm: unknown field "keyArm"`},
		{"rule member", `{"keyrings":{"main":{"kms":{"keyArn":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","Select":["$.a"]}]}`,
			`codec: configuration: rules[0].Select: unknown field "Select" (names are case-sensitive: did you mean "select"?)`},
		{"top level", `{"EncryptionContext":{"a":"b"},"keyrings":{"main":{"kms":{"keyArn":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","select":["$.a"]}]}`,
			`codec: configuration: EncryptionContext: unknown field "EncryptionContext" (names are case-sensitive: did you mean "encryptionContext"?)`},
		{"context keys are data", `{"encryptionContext":{"App":"x","app":"y"},"keyrings":{"main":{"kms":{"keyArn":"` + arn + `"}}},"rules":[{"class":"c","keyring":"main","select":["$.a"]}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.cfg))
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v does not wrap ErrConfig", err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
