package lambdamw_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// TestWrites: SFNENC_WRITES, through both doors (lambdamw.Wrap, and the
// contract sfnenc-proxy calls), against local-kms. A handler that returns
// a value of a class the function may not write fails with
// sfnenc.EncryptError naming the class, before any KMS call, and its value
// is nowhere; a class it may write is sealed; tokens it was given pass on.
func TestWrites(t *testing.T) {
	srv := kmstest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := fmt.Sprintf(`{"encryptionContext":{"app":"writes-test"},"keyrings":{"main":{"kms":{"keyArn":%q}}},
		"rules":[{"class":"pii","keyring":"main","select":["$..ssn"]},
		         {"class":"card","keyring":"main","select":["$..card"]},
		         {"class":"diag","keyring":"main","select":["$.diagnostics"]}]}`, srv.KeyARN("primary"))
	setEnv := func(t *testing.T, env map[string]string) {
		for _, k := range []string{lambdamw.EnvConfigFile, lambdamw.EnvConfig, lambdamw.EnvClasses, lambdamw.EnvWrites, lambdamw.EnvErrorClass} {
			t.Setenv(k, env[k])
			if _, ok := env[k]; !ok {
				os.Unsetenv(k) // t.Setenv restores it afterwards
			}
		}
	}
	ctx := context.Background()
	type door func(t *testing.T, event []byte, result string) ([]byte, string, string) // out, errorType, message
	doors := map[string]door{
		"Wrap": func(t *testing.T, event []byte, result string) ([]byte, string, string) {
			logger, logs := newLogger(slog.LevelDebug)
			t.Cleanup(func() { assertNoCanary(t, "logs", logs.String()) })
			out, err := lambdamw.WrapHandler(rawHandler(result), lambdamw.WithLogger(logger)).Invoke(ctx, event)
			if err != nil {
				assertNoCanary(t, "error report", reportText(err))
				ie := invokeError(t, err)
				return nil, ie.Type, ie.Message
			}
			return out, "", ""
		},
		"proxy contract": func(t *testing.T, event []byte, result string) ([]byte, string, string) {
			logger, logs := newLogger(slog.LevelDebug)
			t.Cleanup(func() { assertNoCanary(t, "logs", logs.String()) })
			out, f := lambdamw.NewContract(lambdamw.WithLogger(logger)).Invoke(ctx, "req-1", event, func(context.Context, []byte) ([]byte, error) {
				return []byte(result), nil
			})
			if f != nil {
				assertNoCanary(t, "failure", f.Type+f.Message)
				return nil, f.Type, f.Message
			}
			return out, "", ""
		},
	}
	for name, invoke := range doors {
		t.Run(name, func(t *testing.T) {
			setEnv(t, map[string]string{lambdamw.EnvConfig: cfg, lambdamw.EnvWrites: "card, diag", lambdamw.EnvErrorClass: "diag"})

			srv.ResetCounts()
			_, typ, msg := invoke(t, []byte(`{}`), `{"customer":{"ssn":"`+canarySSN+`"}}`)
			if typ != lambdamw.ErrorTypeEncrypt || !strings.Contains(msg, "class pii") {
				t.Errorf("a class it may not write: %s %q, want %s naming class pii", typ, msg, lambdamw.ErrorTypeEncrypt)
			}
			if n := srv.Requests(""); n != 0 {
				t.Errorf("%d KMS requests before the refusal, want none", n)
			}

			out, typ, msg := invoke(t, []byte(`{}`), `{"card":"`+canaryCard+`"}`)
			if typ != "" || !strings.HasPrefix(string(out), `{"card":"sfnenc:`) {
				t.Errorf("a class it may write: %s %s %q", out, typ, msg)
			}
			assertNoCanary(t, "result", string(out))

			// A token of pii the function was given, at a path no rule
			// selects, passes on: not a write.
			tok := strings.TrimSuffix(strings.TrimPrefix(string(out), `{"card":"`), `"}`)
			event := []byte(`{"kept":"` + tok + `"}`)
			out, typ, msg = invoke(t, event, string(event))
			if typ != "" || string(out) != string(event) {
				t.Errorf("a token passed on: %s %s %q", out, typ, msg)
			}
		})
	}

	t.Run("configuration", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  map[string]string
			want string
		}{
			{"error class not written", map[string]string{lambdamw.EnvConfig: cfg, lambdamw.EnvWrites: "card", lambdamw.EnvErrorClass: "diag"}, `error class "diag" is not in SFNENC_WRITES`},
			{"unknown class", map[string]string{lambdamw.EnvConfig: cfg, lambdamw.EnvWrites: "card,nosuch"}, `SFNENC_WRITES names "nosuch"`},
			{"set but empty", map[string]string{lambdamw.EnvConfig: cfg, lambdamw.EnvWrites: " "}, "SFNENC_WRITES is set but empty"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				setEnv(t, tc.env)
				_, err := lambdamw.WrapHandler(rawHandler(`{}`)).Invoke(ctx, []byte(`{}`))
				if err == nil {
					t.Fatal("no error")
				}
				ie := invokeError(t, err)
				if ie.Type != lambdamw.ErrorTypeConfig || !strings.Contains(ie.Message, tc.want) {
					t.Errorf("%s %q, want %s with %q", ie.Type, ie.Message, lambdamw.ErrorTypeConfig, tc.want)
				}
			})
		}
	})
}
