package lambdamw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/lambdamw"
)

var update = flag.Bool("update", false, "rewrite the golden results in testdata/events")

// enrich is a handler that works on the whole event as a tree, as many
// Step Functions tasks do, and adds a field.
func enrich(seen *[]byte) func(context.Context, map[string]any) (map[string]any, error) {
	return func(_ context.Context, ev map[string]any) (map[string]any, error) {
		*seen, _ = json.Marshal(ev)
		ev["checked"] = true
		return ev, nil
	}
}

// TestGoldenEvents runs Step Functions-like events through the middleware:
// the handler must see the plaintext, the result must hold tokens and no
// plaintext, and decrypted it must be the golden result. A function that
// may decrypt only "pii" passes card tokens through byte for byte.
func TestGoldenEvents(t *testing.T) {
	files, err := filepath.Glob("testdata/events/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".want.json") {
			events = append(events, f)
		}
	}
	if len(events) == 0 {
		t.Fatal("no events in testdata/events")
	}
	writer := localCodec(t) // the previous state's Lambda, or the service that started the execution
	for _, f := range events {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		plain, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		event := mustEncrypt(t, writer, string(plain))
		assertNoCanary(t, "encrypted event", string(event))
		wantFile := strings.TrimSuffix(f, ".json") + ".want.json"

		for _, tc := range []struct {
			name    string
			classes []string // nil: all
		}{
			{"all classes", nil},
			{"need to know pii", []string{"pii"}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				var copts []codec.Option
				if tc.classes != nil {
					copts = append(copts, codec.WithClasses(tc.classes...))
				}
				logger, logs := newLogger(slog.LevelDebug)
				var seen []byte
				h := lambdamw.Wrap(enrich(&seen), lambdamw.WithCodec(localCodec(t, copts...)), lambdamw.WithLogger(logger))
				out, err := h.Invoke(context.Background(), event)
				if err != nil {
					t.Fatalf("Invoke: %s", reportText(err))
				}
				assertNoCanary(t, "result", string(out))
				assertNoCanary(t, "logs", logs.String())

				// The handler saw the plaintext of the classes it may read,
				// and the tokens of the others as they were.
				wantSeen := jsonTree(t, plain)
				if tc.classes != nil {
					partial, err := localCodec(t, codec.WithClasses(tc.classes...)).Decrypt(context.Background(), event)
					if err != nil {
						t.Fatal(err)
					}
					wantSeen = jsonTree(t, partial)
					for tok, n := range tokensOf(t, event, "card") {
						if got := bytes.Count(out, []byte(`"`+tok+`"`)); got != n {
							t.Errorf("card token appears %d times in the result, want %d (byte for byte)", got, n)
						}
					}
				}
				if diff := cmp.Diff(wantSeen, jsonTree(t, seen)); diff != "" {
					t.Errorf("event the handler saw mismatch (-want +got):\n%s", diff)
				}

				got := mustDecrypt(t, writer, out)
				if *update && tc.classes == nil {
					var ind bytes.Buffer
					if err := json.Indent(&ind, got, "", "  "); err != nil {
						t.Fatal(err)
					}
					ind.WriteByte('\n')
					if err := os.WriteFile(wantFile, ind.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(wantFile)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, got)); diff != "" {
					t.Errorf("decrypted result mismatch (-want +got):\n%s", diff)
				}
				// Every value the rules select is a token in the result.
				for class, n := range countTokens(t, mustEncrypt(t, writer, string(got))) {
					if c := countTokens(t, out)[class]; c != n {
						t.Errorf("result holds %d tokens of class %s, want %d", c, class, n)
					}
				}
			})
		}
	}
}

// tokensOf returns the tokens of class in doc, with their counts.
func tokensOf(t testing.TB, doc []byte, class string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, v := range leaktest.StringValues(t, doc) {
		if countTokens(t, []byte(fmt.Sprintf("%q", v)))[class] == 1 {
			out[v]++
		}
	}
	return out
}

// PaymentDeclined is a handler's own error type.
type PaymentDeclined struct{ Reason string }

func (e *PaymentDeclined) Error() string { return "payment declined for " + e.Reason }

type valueError struct{ msg string }

func (e valueError) Error() string { return e.msg }

// TestHandlerErrors checks that a handler's error keeps the type name the
// runtime would report for it, and that its message is encrypted under the
// error class or redacted, never passed on.
func TestHandlerErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantType string
	}{
		{"pointer type", &PaymentDeclined{Reason: canarySSN}, "PaymentDeclined"},
		{"value type", valueError{"no luck for " + canarySSN}, "valueError"},
		{"errors.New", errors.New("declined " + canarySSN), "errorString"},
		// Catch names the handler's own error type, not the standard
		// library's wrappers around it.
		{"fmt.Errorf %w", fmt.Errorf("charge %s: %w", canaryCard, &PaymentDeclined{Reason: canarySSN}), "PaymentDeclined"},
		{"fmt.Errorf %w twice", fmt.Errorf("notify: %w", fmt.Errorf("charge %s: %w", canaryCard, valueError{canarySSN})), "valueError"},
		{"fmt.Errorf two %w", fmt.Errorf("%w and %w", &PaymentDeclined{Reason: canarySSN}, errors.New(canaryCard)), "PaymentDeclined"},
		{"errors.Join", errors.Join(nil, &PaymentDeclined{Reason: canarySSN}, errors.New(canaryCard)), "PaymentDeclined"},
		{"fmt.Errorf without %w", fmt.Errorf("charge %s failed", canaryCard), "errorString"},
		{"InvokeResponse_Error", messages.InvokeResponse_Error{Type: "Custom.Type", Message: "custom " + canaryPhone}, "Custom.Type"},
	}
	reader := localCodec(t)
	event := mustEncrypt(t, reader, customerEvent("fail"))
	for _, mode := range []string{"encrypted", "redacted"} {
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				opts := []lambdamw.Option{lambdamw.WithCodec(localCodec(t))}
				if mode == "encrypted" {
					opts = append(opts, lambdamw.WithErrorClass("diag"))
				}
				logger, logs := newLogger(slog.LevelDebug)
				opts = append(opts, lambdamw.WithLogger(logger))
				h := lambdamw.Wrap(func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return nil, tc.err
				}, opts...)
				out, err := h.Invoke(context.Background(), event)
				if err == nil {
					t.Fatalf("Invoke returned %s and no error", out)
				}
				assertNoCanary(t, "error report", reportText(err))
				assertNoCanary(t, "logs", logs.String())
				ire := invokeError(t, err)
				if ire.Type != tc.wantType {
					t.Errorf("errorType = %q, want %q", ire.Type, tc.wantType)
				}
				if ire.ShouldExit {
					t.Error("ShouldExit is set for an error")
				}
				var wantMsg string
				if ie, ok := tc.err.(messages.InvokeResponse_Error); ok {
					wantMsg = ie.Message
				} else {
					wantMsg = tc.err.Error()
				}
				switch mode {
				case "encrypted":
					if got := countTokens(t, []byte(fmt.Sprintf("%q", ire.Message))); got["diag"] != 1 {
						t.Fatalf("message %q is not a diag token", ire.Message)
					}
					var msg string
					if err := json.Unmarshal(mustDecrypt(t, reader, []byte(fmt.Sprintf("%q", ire.Message))), &msg); err != nil {
						t.Fatal(err)
					}
					if msg != wantMsg {
						t.Errorf("decrypted message = %q, want %q", msg, wantMsg)
					}
				case "redacted":
					if ire.Message != lambdamw.RedactedMessage {
						t.Errorf("message = %q, want %q", ire.Message, lambdamw.RedactedMessage)
					}
				}
			})
		}
	}
}

// TestPanic checks that a panic in the handler is reported with the type
// name of the panic value, an encrypted or redacted message, a stack of code
// locations, and ShouldExit, as the runtime reports a panic.
func TestPanic(t *testing.T) {
	tests := []struct {
		name     string
		value    func() any
		wantType string
	}{
		{"string", func() any { return "gave up on " + canarySSN }, "string"},
		{"error", func() any { return &PaymentDeclined{Reason: canarySSN} }, "PaymentDeclined"},
		{"runtime error", nil, "boundsError"},
	}
	reader := localCodec(t)
	event := mustEncrypt(t, reader, customerEvent("panic"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := newLogger(slog.LevelDebug)
			h := lambdamw.Wrap(func(_ context.Context, ev struct {
				Customer struct{ SSN string } `json:"customer"`
			}) (string, error) {
				if tc.value == nil {
					var s []string
					_ = s[len(ev.Customer.SSN)] // index out of range
				}
				panic(tc.value())
			}, lambdamw.WithCodec(localCodec(t)), lambdamw.WithErrorClass("diag"), lambdamw.WithLogger(logger))
			_, err := h.Invoke(context.Background(), event)
			if err == nil {
				t.Fatal("Invoke returned no error")
			}
			assertNoCanary(t, "panic report", reportText(err))
			assertNoCanary(t, "logs", logs.String())
			ire := invokeError(t, err)
			if ire.Type != tc.wantType {
				t.Errorf("errorType = %q, want %q", ire.Type, tc.wantType)
			}
			if !ire.ShouldExit {
				t.Error("ShouldExit not set for a panic")
			}
			if len(ire.StackTrace) == 0 {
				t.Error("no stack trace")
			}
			if countTokens(t, []byte(fmt.Sprintf("%q", ire.Message)))["diag"] != 1 {
				t.Errorf("message %q is not a diag token", ire.Message)
			}
		})
	}
}

// TestMiddlewareErrors checks the documented error types of the
// middleware's own failures, and that none of their reports holds a value.
func TestMiddlewareErrors(t *testing.T) {
	writer := localCodec(t)
	event := mustEncrypt(t, writer, customerEvent("echo"))
	// An event encrypted under another encryption context.
	otherCfg, err := codec.ParseConfig([]byte(localConfigJSON(t, "another-app")))
	if err != nil {
		t.Fatal(err)
	}
	otherCodec, err := codec.New(context.Background(), otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	otherEvent := mustEncrypt(t, otherCodec, customerEvent("echo"))
	// A token with one character changed in its sealed part.
	tampered := tamper(t, event)

	echo := lambda.NewHandler(func(ev json.RawMessage) (json.RawMessage, error) { return ev, nil })
	raw := func(b []byte) lambda.Handler { return rawHandler(b) }
	bigBlobs := func(n, size int) lambda.Handler {
		return lambda.NewHandler(func() (any, error) {
			blobs := make([]string, n)
			for i := range blobs {
				blobs[i] = strings.Repeat("x", size)
			}
			return map[string]any{"blobs": blobs}, nil
		})
	}
	tests := []struct {
		name     string
		h        lambda.Handler
		opts     []lambdamw.Option
		event    []byte
		wantType string
		wantErr  error // in the chain of the logged cause, if set
	}{
		{"tampered token", echo, nil, tampered, lambdamw.ErrorTypeDecrypt, nil},
		{"other encryption context", echo, nil, otherEvent, lambdamw.ErrorTypeDecrypt, nil},
		{"event not JSON", echo, nil, []byte(`{"ssn": "` + canarySSN + `"`), lambdamw.ErrorTypeDecrypt, nil},
		{"duplicate names in event", echo, nil, []byte(`{"ssn": "` + canarySSN + `", "ssn": 1}`), lambdamw.ErrorTypeDecrypt, nil},
		{"result not JSON", raw([]byte(`{"ssn": "` + canarySSN + `"`)), nil, event, lambdamw.ErrorTypeEncrypt, nil},
		{"result with duplicate names", raw([]byte(`{"card": "` + canaryCard + `", "card": 2}`)), nil, event, lambdamw.ErrorTypeEncrypt, nil},
		// 64 selected strings of 3,000 bytes: 192,000 bytes before
		// encryption, over 262,144 after (base64 and token overhead).
		{"result too large after encryption", bigBlobs(64, 3000), nil, event, lambdamw.ErrorTypeResultTooLarge, nil},
		{"result too large", bigBlobs(1, 300000), nil, event, lambdamw.ErrorTypeResultTooLarge, nil},
		{"negative deadline margin", echo, []lambdamw.Option{lambdamw.WithDeadlineMargin(-time.Second)}, event, lambdamw.ErrorTypeConfig, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := newLogger(slog.LevelDebug)
			opts := append([]lambdamw.Option{lambdamw.WithCodec(localCodec(t)), lambdamw.WithLogger(logger)}, tc.opts...)
			out, err := lambdamw.WrapHandler(tc.h, opts...).Invoke(context.Background(), tc.event)
			if err == nil {
				t.Fatalf("Invoke returned %.100s and no error", out)
			}
			if out != nil {
				t.Errorf("Invoke returned %d bytes with its error", len(out))
			}
			assertNoCanary(t, "error report", reportText(err))
			assertNoCanary(t, "logs", logs.String())
			ire := invokeError(t, err)
			if ire.Type != tc.wantType {
				t.Errorf("errorType = %q (%s), want %q", ire.Type, ire.Message, tc.wantType)
			}
			if !strings.HasPrefix(ire.Message, "lambdamw: ") {
				t.Errorf("message %q does not start with the package name", ire.Message)
			}
		})
	}
}

// rawHandler returns its bytes as the result.
type rawHandler []byte

func (h rawHandler) Invoke(context.Context, []byte) ([]byte, error) { return h, nil }

// tamper changes one character inside the first token of doc.
func tamper(t testing.TB, doc []byte) []byte {
	t.Helper()
	i := bytes.Index(doc, []byte(`"sfnenc:`))
	if i < 0 {
		t.Fatal("no token")
	}
	end := i + 1 + bytes.IndexByte(doc[i+1:], '"')
	out := bytes.Clone(doc)
	p := end - 10 // inside the sealed value
	if out[p] == 'A' {
		out[p] = 'B'
	} else {
		out[p] = 'A'
	}
	return out
}

// TestConfiguration checks configuration from the environment and from
// code options, and the ErrorTypeConfig failures.
func TestConfiguration(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sfnenc.json")
	if err := os.WriteFile(cfgFile, []byte(localConfigJSON(t, "lambdamw-test")), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"keyrings":{},"rules":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	writer := localCodec(t)
	event := mustEncrypt(t, writer, customerEvent("echo"))

	type want struct {
		errType string
		// Classes whose tokens reach the handler as they are.
		undecrypted []string
		// Whether a handler error's message is a token.
		sealedErrors bool
	}
	tests := []struct {
		name string
		env  map[string]string
		opts []lambdamw.Option
		want want
	}{
		{"no configuration", nil, nil, want{errType: lambdamw.ErrorTypeConfig}},
		{"file from env", map[string]string{lambdamw.EnvConfigFile: cfgFile}, nil, want{}},
		{"inline from env", map[string]string{lambdamw.EnvConfig: localConfigJSON(t, "lambdamw-test")}, nil, want{}},
		{"both from env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvConfig: localConfigJSON(t, "lambdamw-test")}, nil,
			want{errType: lambdamw.ErrorTypeConfig}},
		{"missing file", map[string]string{lambdamw.EnvConfigFile: filepath.Join(dir, "absent.json")}, nil, want{errType: lambdamw.ErrorTypeConfig}},
		{"invalid file", map[string]string{lambdamw.EnvConfigFile: badFile}, nil, want{errType: lambdamw.ErrorTypeConfig}},
		{"invalid inline", map[string]string{lambdamw.EnvConfig: `{"rules":`}, nil, want{errType: lambdamw.ErrorTypeConfig}},
		{"classes from env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvClasses: "pii"}, nil,
			want{undecrypted: []string{"card"}}},
		{"classes from env with spaces", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvClasses: " card , diag "}, nil,
			want{undecrypted: []string{"pii"}}},
		{"no classes from env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvClasses: "-"}, nil,
			want{undecrypted: []string{"card", "pii"}}},
		{"bad classes from env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvClasses: "pii,,card"}, nil,
			want{errType: lambdamw.ErrorTypeConfig}},
		{"env classes and WithCodec", map[string]string{lambdamw.EnvClasses: "pii"}, []lambdamw.Option{lambdamw.WithCodec(localCodec(t))},
			want{errType: lambdamw.ErrorTypeConfig}},
		{"nil codec", nil, []lambdamw.Option{lambdamw.WithCodec(nil)}, want{errType: lambdamw.ErrorTypeConfig}},
		{"WithCodec with need to know in code", nil, []lambdamw.Option{lambdamw.WithCodec(localCodec(t, codec.WithClasses("pii")))},
			want{undecrypted: []string{"card"}}},
		{"error class from env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvErrorClass: "diag"}, nil,
			want{sealedErrors: true}},
		{"unknown error class", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvErrorClass: "nosuch"}, nil,
			want{errType: lambdamw.ErrorTypeConfig}},
		{"WithRedactedErrors wins over env", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvErrorClass: "diag"},
			[]lambdamw.Option{lambdamw.WithRedactedErrors()}, want{}},
		{"WithErrorClass", map[string]string{lambdamw.EnvConfigFile: cfgFile}, []lambdamw.Option{lambdamw.WithErrorClass("pii")},
			want{sealedErrors: true}},
		{"bad log level is not fatal", map[string]string{lambdamw.EnvConfigFile: cfgFile, lambdamw.EnvLogLevel: "chatty"}, nil, want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{lambdamw.EnvConfigFile, lambdamw.EnvConfig, lambdamw.EnvClasses, lambdamw.EnvErrorClass, lambdamw.EnvLogLevel, "AWS_LAMBDA_LOG_LEVEL"} {
				t.Setenv(k, tc.env[k])
				if tc.env[k] == "" {
					os.Unsetenv(k) // t.Setenv restores it afterwards
				}
			}
			logger, logs := newLogger(slog.LevelDebug)
			var seen json.RawMessage
			h := lambdamw.Wrap(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) {
				seen = ev
				if bytes.Contains(ev, []byte(`"fail"`)) {
					return nil, &PaymentDeclined{Reason: canarySSN}
				}
				return ev, nil
			}, append([]lambdamw.Option{lambdamw.WithLogger(logger)}, tc.opts...)...)
			out, err := h.Invoke(context.Background(), event)
			assertNoCanary(t, "logs", logs.String())
			if tc.want.errType != "" {
				if err == nil {
					t.Fatal("Invoke returned no error")
				}
				assertNoCanary(t, "error report", reportText(err))
				if got := invokeError(t, err).Type; got != tc.want.errType {
					t.Errorf("errorType = %q, want %q", got, tc.want.errType)
				}
				if len(logs.records(t, "lambdamw: not configured; every invocation fails")) != 1 {
					t.Errorf("no start-up error record in the logs:\n%s", logs)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %s", reportText(err))
			}
			assertNoCanary(t, "result", string(out))
			got := countTokens(t, seen)
			var gotClasses []string
			for _, c := range []string{"card", "diag", "pii"} {
				if got[c] > 0 {
					gotClasses = append(gotClasses, c)
				}
			}
			if diff := cmp.Diff(tc.want.undecrypted, gotClasses); diff != "" {
				t.Errorf("classes left encrypted for the handler mismatch (-want +got):\n%s", diff)
			}
			if len(logs.records(t, "lambdamw: ready")) != 1 {
				t.Errorf("no start-up record in the logs:\n%s", logs)
			}

			_, err = h.Invoke(context.Background(), mustEncrypt(t, writer, customerEvent("fail")))
			if err == nil {
				t.Fatal("failing handler: no error")
			}
			assertNoCanary(t, "error report", reportText(err))
			msg := invokeError(t, err).Message
			if sealed := strings.HasPrefix(msg, "sfnenc:"); sealed != tc.want.sealedErrors {
				t.Errorf("error message %q: encrypted = %v, want %v", msg, sealed, tc.want.sealedErrors)
			}
		})
	}
}

// TestWrapFunc checks every handler signature lambda.Start accepts, and
// that invalid ones fail with ErrorTypeConfig.
func TestWrapFunc(t *testing.T) {
	type ev struct {
		Customer struct {
			SSN string `json:"ssn"`
		} `json:"customer"`
	}
	type res struct {
		SSN string `json:"ssn"`
	}
	var got string
	tests := []struct {
		name     string
		h        any
		want     string // result, decrypted
		wantType string
	}{
		{"func()", func() { got = "called" }, `null`, ""},
		{"func() error", func() error { got = "called"; return nil }, `null`, ""},
		{"func(ev) error", func(e ev) error { got = e.Customer.SSN; return nil }, `null`, ""},
		{"func() (res, error)", func() (res, error) { return res{"x"}, nil }, `{"ssn":"x"}`, ""},
		{"func(ev) (res, error)", func(e ev) (res, error) { got = e.Customer.SSN; return res{e.Customer.SSN}, nil }, `{"ssn":"` + canarySSN + `"}`, ""},
		{"func(ctx) error", func(context.Context) error { got = "called"; return nil }, `null`, ""},
		{"func(ctx, ev) error", func(_ context.Context, e ev) error { got = e.Customer.SSN; return nil }, `null`, ""},
		{"func(ctx) (res, error)", func(context.Context) (res, error) { return res{"y"}, nil }, `{"ssn":"y"}`, ""},
		{"func(ctx, ev) (res, error)", func(_ context.Context, e ev) (*res, error) { got = e.Customer.SSN; return &res{e.Customer.SSN}, nil }, `{"ssn":"` + canarySSN + `"}`, ""},
		{"func(any) (any, error)", func(e any) (any, error) { return e.(map[string]any)["action"], nil }, `"echo"`, ""},
		{"lambda.Handler", lambda.NewHandler(func(e json.RawMessage) (json.RawMessage, error) { return e, nil }), "", ""},
		{"handler error", func(ev) error { return &PaymentDeclined{Reason: canarySSN} }, "", "PaymentDeclined"},
		{"not a function", 42, "", lambdamw.ErrorTypeConfig},
		{"nil", nil, "", lambdamw.ErrorTypeConfig},
		{"three arguments", func(context.Context, ev, ev) error { return nil }, "", lambdamw.ErrorTypeConfig},
		{"first of two is not a context", func(ev, ev) error { return nil }, "", lambdamw.ErrorTypeConfig},
		{"interface that is not a context", func(fmt.Stringer) error { return nil }, "", lambdamw.ErrorTypeConfig},
		{"returns a non-error", func() int { return 1 }, "", lambdamw.ErrorTypeConfig},
		{"second return is not an error", func() (int, int) { return 1, 2 }, "", lambdamw.ErrorTypeConfig},
		{"three returns", func() (int, int, error) { return 1, 2, nil }, "", lambdamw.ErrorTypeConfig},
	}
	writer := localCodec(t)
	event := mustEncrypt(t, writer, customerEvent("echo"))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = ""
			logger, logs := newLogger(slog.LevelDebug)
			out, err := lambdamw.WrapFunc(tc.h, lambdamw.WithCodec(localCodec(t)), lambdamw.WithLogger(logger)).Invoke(context.Background(), event)
			assertNoCanary(t, "logs", logs.String())
			if tc.wantType != "" {
				if err == nil {
					t.Fatal("no error")
				}
				assertNoCanary(t, "error report", reportText(err))
				if typ := invokeError(t, err).Type; typ != tc.wantType {
					t.Errorf("errorType = %q, want %q", typ, tc.wantType)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %s", reportText(err))
			}
			assertNoCanary(t, "result", string(out))
			if tc.want == "" {
				return
			}
			if diff := cmp.Diff(jsonValue(t, []byte(tc.want)), jsonValue(t, mustDecrypt(t, writer, out))); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(tc.name, "ev") && got != canarySSN {
				t.Errorf("handler saw %q, want the decrypted SSN", got)
			}
		})
	}
}

// TestLogs checks the invocation record: what it counts, and that it holds
// no value.
func TestLogs(t *testing.T) {
	logger, logs := newLogger(slog.LevelInfo)
	h := lambdamw.Wrap(func(_ context.Context, ev json.RawMessage) (json.RawMessage, error) { return ev, nil },
		lambdamw.WithCodec(localCodec(t, codec.WithClasses("pii"))), lambdamw.WithLogger(logger))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	for range 2 {
		// A fresh writer each time, so new data keys to unwrap.
		if _, err := h.Invoke(ctx, mustEncrypt(t, localCodec(t), customerEvent("echo"))); err != nil {
			t.Fatalf("Invoke: %s", reportText(err))
		}
	}
	assertNoCanary(t, "logs", logs.String())
	recs := logs.records(t, "lambdamw: invocation")
	if len(recs) != 2 {
		t.Fatalf("%d invocation records, want 2:\n%s", len(recs), logs)
	}
	for i, r := range recs {
		for _, k := range []string{"time", "level", "msg", "durationMs"} {
			delete(r, k)
		}
		delete(r, "resultBytes")
		delete(r, "eventBytes")
		want := map[string]any{
			"requestId":     "req-1",
			"outcome":       "ok",
			"decrypted":     map[string]any{"pii": 2.0},
			"passedThrough": map[string]any{"card": 1.0},
			// The ssn and phone tokens were decrypted and come back
			// unchanged, so their original tokens are given back (no
			// data key); the card token came back as it was.
			"givenBack": map[string]any{"pii": 2.0},
			"cache":     map[string]any{"encryptHits": 0.0, "encryptMisses": 0.0, "decryptHits": 1.0, "decryptMisses": 1.0},
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("invocation %d record mismatch (-want +got):\n%s", i, diff)
		}
	}
}

// TestDeadline checks that KMS calls get a deadline a margin before the
// invocation's, and that a key service that does not answer in time fails
// the invocation with ErrorTypeKeyUnavailable, not a timeout.
func TestDeadline(t *testing.T) {
	writer := localCodec(t)
	event := mustEncrypt(t, writer, customerEvent("echo"))
	ks, err := envelope.LoadInsecureLocalKeyset(keysetPath(t))
	if err != nil {
		t.Fatal(err)
	}
	// A keyring that records the deadline it is called with, then waits
	// for the context to end (an unresponsive key service: fault
	// injection).
	probe := &stallingKeyring{Keyring: ks}
	c := localCodec(t, codec.WithKeyring("dev", probe))
	const margin = 300 * time.Millisecond
	h := lambdamw.WrapFunc(func(ev json.RawMessage) (json.RawMessage, error) { return ev, nil },
		lambdamw.WithCodec(c), lambdamw.WithDeadlineMargin(margin), lambdamw.WithLogger(slog.New(slog.DiscardHandler)))
	deadline := time.Now().Add(2 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	_, err = h.Invoke(ctx, event)
	if err == nil {
		t.Fatal("no error")
	}
	if typ := invokeError(t, err).Type; typ != lambdamw.ErrorTypeKeyUnavailable {
		t.Errorf("errorType = %q, want %q (%v)", typ, lambdamw.ErrorTypeKeyUnavailable, err)
	}
	if ctx.Err() != nil {
		t.Error("the invocation's own deadline passed before the middleware gave up")
	}
	if want := deadline.Add(-margin); !probe.deadline.Equal(want) {
		t.Errorf("key service deadline = %v, want %v (the invocation's minus the margin)", probe.deadline, want)
	}
}

type stallingKeyring struct {
	envelope.Keyring
	deadline time.Time
}

func (k *stallingKeyring) Unwrap(ctx context.Context, _ []envelope.WrappedKey, _ map[string]string) ([]byte, error) {
	k.deadline, _ = ctx.Deadline()
	<-ctx.Done()
	return nil, &envelope.KeyError{Op: "unwrap", Kind: envelope.ErrUnavailable, Err: ctx.Err()}
}
