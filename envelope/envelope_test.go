package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sfnenc/sfnenc/internal/format"
)

func testLocal(t testing.TB) *InsecureLocalKeyring {
	t.Helper()
	kr, err := LoadInsecureLocalKeyset("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestLocalKeyring(t *testing.T) {
	ctx := context.Background()
	kr := testLocal(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if s := fmt.Sprintf(verb, kr); s != "envelope.InsecureLocalKeyring("+kr.KeyID()+")" {
			t.Errorf("Sprintf(%s) = %q", verb, s)
		}
	}
	ec := map[string]string{"app": "x", format.ClassKey: "contact"}
	secret, wrapped, err := kr.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 1 || wrapped[0].Provider != ProviderInsecureLocal || wrapped[0].KeyID != kr.KeyID() {
		t.Fatalf("wrapped = %+v", wrapped)
	}
	got, err := kr.Unwrap(ctx, wrapped, ec)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap = %v", err)
	}
	if _, err := kr.Unwrap(ctx, wrapped, map[string]string{"app": "y", format.ClassKey: "contact"}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Unwrap under another context: %v, want ErrInvalidKey", err)
	}
	foreign := []WrappedKey{{Provider: ProviderInsecureLocal, KeyID: "local:1", Ciphertext: wrapped[0].Ciphertext}}
	if _, err := kr.Unwrap(ctx, foreign, ec); !errors.Is(err, ErrNoKey) {
		t.Errorf("Unwrap of another keyset's key: %v, want ErrNoKey", err)
	}
	kms := []WrappedKey{{Provider: ProviderAWSKMS, KeyID: kr.KeyID(), Ciphertext: wrapped[0].Ciphertext}}
	if _, err := kr.Unwrap(ctx, kms, ec); !errors.Is(err, ErrNoKey) {
		t.Errorf("Unwrap of a KMS-wrapped key: %v, want ErrNoKey", err)
	}
}

func TestParseKeyARN(t *testing.T) {
	for _, tt := range []struct {
		arn, region string
		ok          bool
	}{
		{"arn:aws:kms:eu-west-2:111122223333:key/0d7c4f4e-58a1-4c34-9a38-2f1d4b0b6c21", "eu-west-2", true},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234", "us-gov-west-1", true},
		{"arn:aws:kms:eu-west-2:111122223333:alias/demo", "", false},
		{"alias/demo", "", false},
		{"0d7c4f4e-58a1-4c34-9a38-2f1d4b0b6c21", "", false},
		{"arn:aws:s3:::bucket", "", false},
		{"arn:aws:kms:eu-west-2:111122223333:key/", "", false},
		{"arn:aws:kms::111122223333:key/abc", "", false},
	} {
		region, err := ParseKeyARN(tt.arn)
		if (err == nil) != tt.ok || region != tt.region {
			t.Errorf("ParseKeyARN(%q) = %q, %v", tt.arn, region, err)
		}
	}
}

// countingKeyring counts calls and can fail or block; it stands in for a
// keyring only to test the caches.
// TestConcurrentMissesMakeOneCall: many goroutines missing on one key at
// once share one keyring call.
func TestMulti(t *testing.T) {
	ctx := context.Background()
	a := testLocal(t)
	b, err := LoadInsecureLocalKeyset("../testdata/keys/insecure-other-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"k": "v"}
	m := Multi(a, b)
	secret, wrapped, err := m.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 2 {
		t.Fatalf("%d wrapped keys", len(wrapped))
	}
	for _, kr := range []Keyring{a, b, m, Multi(b, a)} {
		got, err := kr.Unwrap(ctx, wrapped, ec)
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Unwrap: %v", err)
		}
	}
	// It reads through its primary key alone (TestNoFallbackByOmission).
	owns := m.(interface{ Owns(WrappedKey) bool }).Owns
	if !owns(wrapped[0]) || owns(wrapped[1]) {
		t.Errorf("multi keyring owns primary %v, break-glass %v; want true, false", owns(wrapped[0]), owns(wrapped[1]))
	}
}

// verdictKeyring fails every Unwrap with the given kind: fault injection
// standing for a key service's answer.
type verdictKeyring struct {
	Keyring
	kind error
}

func (v verdictKeyring) Unwrap(context.Context, []WrappedKey, map[string]string) ([]byte, error) {
	return nil, &KeyError{Op: "unwrap", Provider: ProviderAWSKMS, KeyID: "primary", Kind: v.kind}
}

// TestNoFallbackAfterInvalidKey plays a holder of a break-glass key who
// wraps a data key of their own under it and has the primary wrapped key
// fail, whichever way: the reader configured with the primary key must not
// fall back to the break-glass key, whatever the primary key answers.
func TestNoFallbackAfterInvalidKey(t *testing.T) {
	ctx := context.Background()
	breakGlass := testLocal(t)
	ec := map[string]string{"k": "v"}
	_, wrapped, err := breakGlass.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []error{ErrInvalidKey, ErrDenied, ErrUnavailable, ErrKeyNotFound, ErrNoCredentials} {
		m := Multi(verdictKeyring{Keyring: breakGlass, kind: kind}, breakGlass)
		_, err := m.Unwrap(ctx, wrapped, ec)
		if err == nil {
			t.Errorf("primary fails with %v: the reader fell back to the break-glass key", kind)
			continue
		}
		if !errors.Is(err, kind) {
			t.Errorf("primary fails with %v: error %v, want the primary key's", kind, err)
		}
		if MayTryAnother(err) {
			t.Errorf("primary fails with %v: MayTryAnother = true", kind)
		}
	}
}

// TestNoFallbackByOmission plays a holder of kms:Encrypt on a break-glass
// key who leaves the primary wrapped key out of the token altogether: a
// reader configured with the primary key refuses it, and only a reader
// configured without it (the break-glass procedure) opens it.
func TestNoFallbackByOmission(t *testing.T) {
	ctx := context.Background()
	primary := testLocal(t)
	breakGlass, err := LoadInsecureLocalKeyset("../testdata/keys/insecure-other-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"k": "v"}
	secret, onlyBG, err := breakGlass.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(secret)
	reader := Multi(primary, breakGlass)
	if _, err := reader.Unwrap(ctx, onlyBG, ec); !errors.Is(err, ErrNoPrimaryKey) || !errors.Is(err, ErrNoKey) {
		t.Errorf("a token with only a break-glass wrapped key: %v, want ErrNoPrimaryKey", err)
	}
	if o := reader.(interface{ Owns(WrappedKey) bool }); o.Owns(onlyBG[0]) {
		t.Error("the primary + break-glass reader owns a break-glass wrapped key")
	}
	// The break-glass procedure: a configuration whose only key is the
	// break-glass key reads it.
	got, err := breakGlass.Unwrap(ctx, onlyBG, ec)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("break-glass reader: %v", err)
	}
}

// TestNoncesNeverRepeat: nonces from a batch are all different, across
// refills, and a sealed value opens whichever way its nonce was drawn.
// TestNoncesCopyPanics: a copy of a Nonces made after use would hand out
// the original's nonces again; using it panics before it draws one, while a
// copy of the zero value is a fresh Nonces.
// TestNoncesCopyIsReported: go vet's copylocks check reports a copy of a
// Nonces, so the mistake is caught before it runs.
// copyNonces copies *src to *dst past go vet, which would report *dst = *src.
