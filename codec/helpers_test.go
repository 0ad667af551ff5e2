package codec

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sfnenc/sfnenc/internal/leaktest"
)

// canary values: tests put them in documents and hunt for them in every
// error and output that must not hold them.
const (
	canarySSN   = "CANARY-SSN-7f3a9c"
	canaryPhone = "+44-CANARY-20-7946"
)

func localConfig(t testing.TB, rules string) *Config {
	t.Helper()
	ks, err := filepath.Abs("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	js := `{"encryptionContext":{"app":"test"},"keyrings":{"dev":{"insecureLocalKeyset":"` + ks + `"}},"rules":` + rules + `}`
	c, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return c
}

func newLocal(t testing.TB, rules string, opts ...Option) *Codec {
	t.Helper()
	c, err := New(context.Background(), localConfig(t, rules), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func assertNoCanary(t testing.TB, what, s string) {
	t.Helper()
	leaktest.Check(t, what, s, canarySSN, canaryPhone)
}
