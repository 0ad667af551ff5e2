package lambdamw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/internal/leaktest"
)

// Canary values: tests put them in events, encrypted, and hunt for them in
// every response, error, log line and panic report, where they must never
// appear.
const (
	canarySSN   = "CANARY-SSN-5e1d07"
	canaryPhone = "+44-CANARY-7700-900123"
	canaryCard  = "CANARY-PAN-4929"
)

var canaries = []string{canarySSN, canaryPhone, canaryCard}

// assertNoCanary fails the test if s holds a canary value.
func assertNoCanary(t testing.TB, what string, s string) {
	t.Helper()
	leaktest.Check(t, what, s, canaries...)
}

// testRules: pii and card encrypt the customer's SSN and phone and the card;
// diag exists to encrypt error messages.
const testRules = `[
	{"class":"pii","keyring":"dev","select":["$.customer.ssn","$.customer.phone","$..ssn","$.blobs[*]"]},
	{"class":"card","keyring":"dev","select":["$..card"]},
	{"class":"diag","keyring":"dev","select":["$.diagnostics"]}
]`

func keysetPath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// localConfigJSON is a configuration with the insecure local test keyset.
func localConfigJSON(t testing.TB, ec string) string {
	return `{"encryptionContext":{"app":"` + ec + `"},"keyrings":{"dev":{"insecureLocalKeyset":"` + keysetPath(t) + `"}},"rules":` + testRules + `}`
}

func localConfig(t testing.TB) *codec.Config {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(localConfigJSON(t, "lambdamw-test")))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func localCodec(t testing.TB, opts ...codec.Option) *codec.Codec {
	t.Helper()
	c, err := codec.New(context.Background(), localConfig(t), opts...)
	if err != nil {
		t.Fatalf("codec.New: %v", err)
	}
	return c
}

// logBuffer collects JSON log records.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records with the given message.
func (b *logBuffer) records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" || !strings.HasPrefix(line, "{") {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			continue // a line of something else than the middleware
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func newLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	b := new(logBuffer)
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level})), b
}

// invokeError returns what the runtime would report for err: the Type and
// Message of a messages.InvokeResponse_Error, which the middleware returns.
func invokeError(t testing.TB, err error) messages.InvokeResponse_Error {
	t.Helper()
	var ire messages.InvokeResponse_Error
	if !errors.As(err, &ire) {
		t.Fatalf("error %T is not a messages.InvokeResponse_Error: %v", err, err)
	}
	return ire
}

// reportText is everything of an error report that could leak: message,
// type, stack and the error's own text.
func reportText(err error) string {
	var b strings.Builder
	b.WriteString(err.Error())
	var ire messages.InvokeResponse_Error
	if errors.As(err, &ire) {
		js, _ := json.Marshal(ire)
		b.Write(js)
	}
	return b.String()
}

// countTokens counts tokens in a JSON document by class (test-side, through
// a tree decode).
func countTokens(t testing.TB, doc []byte) map[string]int {
	t.Helper()
	return leaktest.TokenClasses(t, doc)
}

// jsonValue parses a JSON document for comparison.
func jsonValue(t testing.TB, doc []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return v
}

// jsonTree parses a JSON document as encoding/json does by default, with
// numbers as float64.
func jsonTree(t testing.TB, doc []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return v
}

// mustEncrypt encrypts an event with c.
func mustEncrypt(t testing.TB, c *codec.Codec, doc string) []byte {
	t.Helper()
	out, err := c.Encrypt(context.Background(), []byte(doc))
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return out
}

func mustDecrypt(t testing.TB, c *codec.Codec, doc []byte) []byte {
	t.Helper()
	out, err := c.Decrypt(context.Background(), doc)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	return out
}

// customerEvent is an event with every canary.
func customerEvent(action string) string {
	return fmt.Sprintf(`{"action":%q,"customer":{"name":"Ann","ssn":%q,"phone":%q},"card":{"pan":%q,"exp":"12/29"}}`,
		action, canarySSN, canaryPhone, canaryCard)
}
