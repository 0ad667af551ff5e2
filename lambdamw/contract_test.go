package lambdamw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// tokenOf returns the text of the token of class that c makes for value
// (a JSON text).
func tokenOf(t *testing.T, c *codec.Codec, class, value string) string {
	t.Helper()
	tok, err := c.EncryptValue(context.Background(), class, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestContract plays a payload editor and a handler that moves data: each
// case is an attack on the two-way contract, through the public API.
func TestContract(t *testing.T) {
	ctx := context.Background()
	writer := localCodec(t)
	ssnTok := tokenOf(t, writer, "pii", `"`+canarySSN+`"`)
	cardTok := tokenOf(t, writer, "card", `"`+canaryCard+`"`)
	custTok := tokenOf(t, writer, "pii", `{"name":"Ada","phone":"`+canaryPhone+`"}`)

	// echo returns what its transform makes of the event it saw.
	type result struct {
		out     []byte
		errType string
		saw     []byte
	}
	run := func(t *testing.T, event string, transform func(map[string]any) any, opts ...lambdamw.Option) result {
		t.Helper()
		logger, logs := newLogger(slog.LevelDebug)
		var saw []byte
		h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) {
			saw, _ = json.Marshal(ev)
			return transform(ev), nil
		}, append([]lambdamw.Option{lambdamw.WithCodec(localCodec(t)), lambdamw.WithLogger(logger)}, opts...)...)
		out, err := h.Invoke(ctx, []byte(event))
		assertNoCanary(t, "logs", logs.String())
		if err != nil {
			assertNoCanary(t, "error report", reportText(err))
			return result{errType: invokeError(t, err).Type, saw: saw}
		}
		assertNoCanary(t, "result", string(out))
		return result{out: out, saw: saw}
	}
	same := func(ev map[string]any) any { return ev }

	t.Run("moved token stays a token", func(t *testing.T) {
		// Parameters renamed customer.ssn to applicantSsn: no rule
		// selects it, so the handler gets the token, not the SSN.
		r := run(t, `{"applicantSsn":"`+ssnTok+`"}`, same)
		if r.errType != "" {
			t.Fatalf("errorType %s", r.errType)
		}
		if bytes.Contains(r.saw, []byte(canarySSN)) {
			t.Error("the handler saw a token decrypted at a path no rule selects")
		}
		if !bytes.Contains(r.out, []byte(ssnTok)) {
			t.Error("the moved token did not come back as it was")
		}
	})
	t.Run("decryption oracle", func(t *testing.T) {
		// A history reader without kms:Decrypt copies a token into a
		// free-text field of an execution they start.
		r := run(t, `{"notes":"`+custTok+`","customer":{"ssn":"`+ssnTok+`"}}`, func(ev map[string]any) any {
			return map[string]any{"echo": ev["notes"], "ssn": ev["customer"].(map[string]any)["ssn"]}
		})
		if r.errType != "" {
			t.Fatalf("errorType %s", r.errType)
		}
		if bytes.Contains(r.saw, []byte(canaryPhone)) {
			t.Error("the handler saw the planted token decrypted")
		}
	})
	t.Run("decrypted value renamed, nested, in an array, or whole", func(t *testing.T) {
		event := `{"customer":{"ssn":"` + ssnTok + `","card":"` + cardTok + `"},"blobs":["` + custTok + `"]}`
		for name, tr := range map[string]func(map[string]any) any{
			"renamed": func(ev map[string]any) any {
				return map[string]any{"applicantSsn": ev["customer"].(map[string]any)["ssn"]}
			},
			"nested in a new object": func(ev map[string]any) any {
				return map[string]any{"report": map[string]any{"who": ev["blobs"].([]any)[0], "n": 1}}
			},
			"in an array": func(ev map[string]any) any {
				c := ev["customer"].(map[string]any)
				return map[string]any{"list": []any{"x", c["card"], c["ssn"]}}
			},
			"a string from inside a value": func(ev map[string]any) any {
				return map[string]any{"callback": ev["blobs"].([]any)[0].(map[string]any)["phone"]}
			},
			"returned whole": func(ev map[string]any) any { return ev["blobs"].([]any)[0] },
			"member order changed": func(ev map[string]any) any {
				b := ev["blobs"].([]any)[0].(map[string]any)
				return map[string]any{"x": json.RawMessage(`{"phone":` + quote(b["phone"].(string)) + `,"name":"Ada"}`)}
			},
		} {
			t.Run(name, func(t *testing.T) {
				r := run(t, event, tr)
				if r.errType != "" {
					t.Fatalf("errorType %s", r.errType)
				}
				if !bytes.Contains(r.saw, []byte(canarySSN)) {
					t.Fatal("the handler did not see the SSN")
				}
				// run already hunted the canaries in the result;
				// check the values came back as tokens that decrypt.
				plain, err := writer.Decrypt(ctx, r.out)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(plain, []byte("CANARY")) {
					t.Errorf("resealed values do not decrypt back: %s", plain)
				}
			})
		}
	})
	t.Run("a member named by a decrypted value fails closed", func(t *testing.T) {
		r := run(t, `{"customer":{"ssn":"`+ssnTok+`"}}`, func(ev map[string]any) any {
			return map[string]any{ev["customer"].(map[string]any)["ssn"].(string): true}
		})
		if r.errType != lambdamw.ErrorTypeEncrypt {
			t.Errorf("errorType %q, want %s", r.errType, lambdamw.ErrorTypeEncrypt)
		}
	})
	for _, tc := range []struct {
		name, event string
		opts        []lambdamw.Option
		errType     string
	}{
		{"plaintext where a rule expects a token", `{"customer":{"ssn":"` + canarySSN + `"}}`, nil, lambdamw.ErrorTypeContract},
		{"an object where a rule expects a token", `{"customer":{"ssn":{"v":"` + canarySSN + `"}}}`, nil, lambdamw.ErrorTypeContract},
		{"a token of another class", `{"customer":{"ssn":"` + cardTok + `"}}`, nil, lambdamw.ErrorTypeContract},
		{"a token of another class, plaintext accepted", `{"customer":{"ssn":"` + cardTok + `"}}`,
			[]lambdamw.Option{lambdamw.WithAcceptPlaintext()}, lambdamw.ErrorTypeContract},
		{"a case variant of a selected name", `{"customer":{"SSN":"` + canarySSN + `"}}`, nil, lambdamw.ErrorTypeContract},
		// encoding/json folds the long s (U+017F) to s.
		{"a case variant with the long s", `{"customer":{"\u017fsn":"` + canarySSN + `"}}`, nil, lambdamw.ErrorTypeContract},
		{"null and absent are fine", `{"customer":{"ssn":null},"other":1}`, nil, ""},
		{"reserved prefix in plain text", `{"comment":"sfnenc: see attached"}`, nil, lambdamw.ErrorTypeDecrypt},
		{"plaintext accepted for a first state", `{"customer":{"ssn":"` + canarySSN + `"}}`,
			[]lambdamw.Option{lambdamw.WithAcceptPlaintext()}, ""},
		{"a case variant, plaintext accepted", `{"customer":{"SSN":"` + canarySSN + `"}}`,
			[]lambdamw.Option{lambdamw.WithAcceptPlaintext()}, lambdamw.ErrorTypeContract},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.event, same, tc.opts...)
			if r.errType != tc.errType {
				t.Fatalf("errorType %q, want %q", r.errType, tc.errType)
			}
			if tc.errType != "" && r.saw != nil {
				t.Error("the handler ran")
			}
		})
	}
	t.Run("accepted plaintext is guarded too", func(t *testing.T) {
		r := run(t, `{"customer":{"ssn":"`+canarySSN+`"}}`, func(ev map[string]any) any {
			return map[string]any{"copy": ev["customer"].(map[string]any)["ssn"]}
		}, lambdamw.WithAcceptPlaintext())
		if r.errType != "" {
			t.Fatalf("errorType %s", r.errType)
		}
	})
}

// TestNeedToKnowFailsClosed: an empty SFNENC_CLASSES, or a class the
// configuration lacks, is a configuration error, not "every class".
func TestNeedToKnowFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		opts    []lambdamw.Option
		errType string
	}{
		{"empty", "", nil, lambdamw.ErrorTypeConfig},
		{"blank", "  ", nil, lambdamw.ErrorTypeConfig},
		{"unknown class", "pii,identty", nil, lambdamw.ErrorTypeConfig},
		{"none", "-", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(lambdamw.EnvConfig, localConfigJSON(t, "lambdamw-test"))
			t.Setenv(lambdamw.EnvConfigFile, "")
			t.Setenv(lambdamw.EnvClasses, tc.env)
			logger, _ := newLogger(slog.LevelDebug)
			h := lambdamw.Wrap(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil },
				append([]lambdamw.Option{lambdamw.WithLogger(logger)}, tc.opts...)...)
			_, err := h.Invoke(context.Background(), []byte(`{}`))
			got := ""
			if err != nil {
				got = invokeError(t, err).Type
			}
			if got != tc.errType {
				t.Errorf("errorType %q, want %q", got, tc.errType)
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBreakGlassByOmission plays a holder of kms:Encrypt on a break-glass
// key: they make a token of a value of their choosing whose data key only the
// break-glass key wraps. A function configured with the primary and the
// break-glass key refuses it (sfnenc.DecryptError, the handler does not
// run); it never reads through the break-glass key.
func TestBreakGlassByOmission(t *testing.T) {
	ctx := context.Background()
	primary, err := envelope.LoadInsecureLocalKeyset(keysetPath(t))
	if err != nil {
		t.Fatal(err)
	}
	breakGlass, err := envelope.LoadInsecureLocalKeyset("../testdata/keys/insecure-other-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	forger := localCodec(t, codec.WithKeyring("dev", breakGlass))
	forged := tokenOf(t, forger, "pii", `"`+canarySSN+`"`)
	genuine := tokenOf(t, localCodec(t, codec.WithKeyring("dev", envelope.Multi(primary, breakGlass))), "pii", `"123-45-6789"`)

	for _, tc := range []struct {
		name, tok string
		wantType  string
	}{
		{"token wrapped by the break-glass key only", forged, "sfnenc.DecryptError"},
		{"genuine token", genuine, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) {
				ran = true
				return ev, nil
			}, lambdamw.WithCodec(localCodec(t, codec.WithKeyring("dev", envelope.Multi(primary, breakGlass)))))
			out, err := h.Invoke(ctx, []byte(`{"customer":{"ssn":"`+tc.tok+`"}}`))
			if tc.wantType == "" {
				if err != nil || !ran {
					t.Fatalf("genuine token: ran %v, %v", ran, err)
				}
				return
			}
			if err == nil || ran {
				t.Fatalf("forged token accepted: handler ran %v, result %s", ran, out)
			}
			if got := invokeError(t, err).Type; got != tc.wantType {
				t.Errorf("errorType %s, want %s", got, tc.wantType)
			}
			assertNoCanary(t, "error report", reportText(err))
		})
	}
}
