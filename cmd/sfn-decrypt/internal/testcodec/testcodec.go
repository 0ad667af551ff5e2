// Package testcodec gives the tests of sfn-decrypt's packages a codec with
// the insecure test keyset of the repository, and tokens made with it.
// Tests alone import it.
package testcodec

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sfnenc/sfnenc/codec"
)

// New returns a codec with two classes, identity ($..ssn) and contact
// ($..email), both in the insecure test keyset of testdata/keys.
func New(t testing.TB, opts ...codec.Option) *codec.Codec {
	t.Helper()
	return NewRules(t, `[{"class":"identity","keyring":"dev","select":["$..ssn"]},{"class":"contact","keyring":"dev","select":["$..email"]}]`, opts...)
}

// NewRules returns a codec with the rules of the JSON array rules, whose
// keyring "dev" is the insecure test keyset of testdata/keys.
func NewRules(t testing.TB, rules string, opts ...codec.Option) *codec.Codec {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path, _ := json.Marshal(filepath.Join(filepath.Dir(file), "../../../../testdata/keys/insecure-test-keyset.json"))
	cfg, err := codec.ParseConfig([]byte(`{"encryptionContext":{"app":"test"},"keyrings":{"dev":{"insecureLocalKeyset":` + string(path) + `}},
		"rules":` + rules + `}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Token returns the token of value (JSON text) in class.
func Token(t testing.TB, c *codec.Codec, class, value string) string {
	t.Helper()
	tok, err := c.EncryptValue(context.Background(), class, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Tampered alters a token's sealed part, so that it fails authentication.
func Tampered(tok string) string {
	b := []byte(tok)
	i := len(b) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
