package codec

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestScopeWritesOnly plays a function that may write contact only
// (WritesOnly("contact"), SFNENC_WRITES=contact), against local-kms: a
// result that needs a new token of another class fails with a *WriteError
// naming the class, before any KMS request, and with no value in the error;
// tokens passed on unchanged are not writes.
func TestScopeWritesOnly(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.Start(t)
	c := kmsCodec(t, srv, []string{srv.KeyARN("primary")})
	writer := kmsCodec(t, srv, []string{srv.KeyARN("primary")})
	in, err := writer.Encrypt(ctx, []byte(`{"applicant":{"ssn":"`+canarySSN+`"},"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	identityTok := string(in[bytes.Index(in, []byte(`"sfnenc:`))+1 : bytes.LastIndex(in, []byte(`"},`))])

	for _, tc := range []struct {
		name   string
		event  string
		result func(plain []byte) string
		class  string // the class the WriteError names, or "" for success
	}{
		{"plaintext of a class it may not write", `{}`,
			func([]byte) string { return `{"ssn":"` + canarySSN + `"}` }, "identity"},
		{"a class it may not write, nested under one it may", `{}`,
			func([]byte) string { return `{"a":[{"ssn":{"x":"` + canarySSN + `"}}],"phone":"` + canaryPhone + `"}` }, "identity"},
		{"a decrypted value changed, at its rule's path", `{"applicant":{"ssn":"` + identityTok + `"}}`,
			func([]byte) string { return `{"applicant":{"ssn":"checked ` + canarySSN + `"}}` }, "identity"},
		// Moved but unchanged, it goes back as the token it came from:
		// not a write.
		{"a decrypted value moved unchanged to an unselected path", `{"applicant":{"ssn":"` + identityTok + `"}}`,
			func([]byte) string { return `{"copy":"` + canarySSN + `"}` }, ""},
		{"a class it may write", `{}`,
			func([]byte) string { return `{"phone":"` + canaryPhone + `"}` }, ""},
		{"a token it received, passed on unchanged", `{"ssn":"` + identityTok + `"}`,
			// The handler does not see it decrypted: it echoes the
			// token it got at a path of no rule.
			func([]byte) string { return `{"kept":"` + identityTok + `"}` }, ""},
		{"a token it received, at its rule's path", `{"n":1}`,
			func([]byte) string { return `{"applicant":{"ssn":"` + identityTok + `"}}` }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := c.NewScope(WritesOnly("contact"))
			plain, err := s.Decrypt(ctx, []byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetCounts()
			out, err := s.Encrypt(ctx, []byte(tc.result(plain)))
			if tc.class == "" {
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				assertNoCanary(t, "output", string(out))
				return
			}
			var we *WriteError
			if !errors.As(err, &we) || we.Class != tc.class || !errors.Is(err, ErrWriteNotAllowed) {
				t.Fatalf("Encrypt: %v (%T), want a *WriteError naming %s", err, err, tc.class)
			}
			if !strings.Contains(err.Error(), "class "+tc.class) {
				t.Errorf("error %q does not name the class", err)
			}
			assertNoCanary(t, "error", err.Error())
			if out != nil {
				t.Errorf("output on error: %s", out)
			}
			if n := srv.Requests(""); n != 0 {
				t.Errorf("%d KMS requests before the refusal, want none", n)
			}
		})
	}

	// A value the function decrypted and returns unchanged, where it was.
	// Today the Scope seals it again, which makes a new token: a write,
	// refused for a class the function may not write. Where the codec
	// comes to give back the original token for a value returned
	// unchanged, that is no write: the result then holds the original
	// token byte for byte. Either way no new token of the class is made
	// and no KMS request is sent.
	t.Run("a decrypted value returned unchanged", func(t *testing.T) {
		s := c.NewScope(WritesOnly("contact"))
		event := []byte(`{"applicant":{"ssn":"` + identityTok + `"}}`)
		plain, err := s.Decrypt(ctx, event)
		if err != nil {
			t.Fatal(err)
		}
		srv.ResetCounts()
		out, err := s.Encrypt(ctx, plain)
		var we *WriteError
		switch {
		case err == nil:
			if !bytes.Equal(out, event) {
				t.Errorf("result %s, want the original token back", out)
			}
		case !errors.As(err, &we) || we.Class != "identity":
			t.Fatalf("Encrypt: %v, want the original token or a *WriteError naming identity", err)
		}
		if n := srv.Requests("GenerateDataKey"); n != 0 {
			t.Errorf("%d GenerateDataKey requests, want none", n)
		}
	})

	// WritesOnly with no class: a function that writes nothing still
	// passes tokens on.
	s := c.NewScope(WritesOnly())
	if _, err := s.Encrypt(ctx, []byte(`{"x":"`+identityTok+`","n":2}`)); err != nil {
		t.Errorf("WritesOnly(): passing a token on: %v", err)
	}
	if _, err := s.Encrypt(ctx, []byte(`{"phone":"x"}`)); !errors.Is(err, ErrWriteNotAllowed) {
		t.Errorf("WritesOnly(): writing contact: %v, want ErrWriteNotAllowed", err)
	}
}
