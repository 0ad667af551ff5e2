package lambdamw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/launch"
	"github.com/sfnenc/sfnenc/internal/testbin"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// emulated is one Lambda function running under the AWS Lambda Runtime
// Interface Emulator, on two loopback ports of its own. The emulator fails on
// concurrent invocations of one function, so invoke serialises them.
type emulated struct {
	url  string
	proc *launch.Process
	logs *logBuffer // the emulator's and the function's stdout and stderr
	mu   sync.Mutex
}

// startEmulated runs the handler binary under the emulator with env added
// to a copy of this process's environment from which AWS_ and SFNENC_
// variables are removed.
func startEmulated(t *testing.T, rie, bin string, env ...string) *emulated {
	t.Helper()
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "SFNENC_") && !strings.HasPrefix(kv, "TESTHANDLER_") {
			base = append(base, kv)
		}
	}
	f := &emulated{logs: new(logBuffer)}
	p, url, err := launch.StartEmulator(context.Background(), rie, bin, append(base, env...), f.logs)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	f.proc, f.url = p, url
	t.Cleanup(func() {
		f.proc.Stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", f.logs)
		}
	})
	return f
}

// invokeResult is the emulator's answer: the result, or the error report.
type invokeResult struct {
	body      []byte
	errorType string
	message   string
}

// invoke sends an event and returns the answer. The emulator answers
// errors with HTTP 200 and a body of errorType and errorMessage, or with HTTP
// 502 and that body when the function's process exited after reporting the
// error (as it does after a panic).
func (f *emulated) invoke(t *testing.T, event []byte) invokeResult {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	r := invokeResult{body: body}
	var e struct {
		Type    *string `json:"errorType"`
		Message string  `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil && e.Type != nil {
		r.errorType, r.message = *e.Type, e.Message
	}
	if resp.StatusCode != http.StatusOK && (resp.StatusCode != http.StatusBadGateway || r.errorType == "") {
		t.Fatalf("invoke: HTTP %d: %.2000s", resp.StatusCode, body)
	}
	return r
}

// records returns the middleware's log records with the given message from
// the emulator's output.
func (f *emulated) records(t *testing.T, msg string) []map[string]any {
	return f.logs.records(t, msg)
}

// recordsAtLeast returns the records of msg once there are n of them, or
// what there is after a few seconds: the emulator passes the function's
// standard error on asynchronously, so the record of the last invocation
// may reach the output after its response.
func (f *emulated) recordsAtLeast(t *testing.T, msg string, n int) []map[string]any {
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := f.records(t, msg)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// itConfig is the function's configuration: KMS keys of local-kms.
func itConfig(keyARN string) string {
	return `{"encryptionContext":{"app":"lambdamw-it"},"keyrings":{"dev":{"kms":{"keyArn":"` + keyARN + `"}}},"rules":` + testRules + `}`
}

// emulatorEnv is what the tests share: the tools, the handler binary and a
// KMS server for the test's own codecs, separate from each function's, so
// that the function's KMS calls can be counted on its own server. Every
// server is seeded with the same keys, so tokens made through one decrypt
// through another.
type emulatorEnv struct {
	rie, bin string
	kms      *kmstest.Server
}

// writer returns a new codec of the test (with empty caches, so new data
// keys), standing for the previous state or the service that started the
// execution.
func (e *emulatorEnv) writer(t *testing.T) *codec.Codec {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(itConfig(e.kms.KeyARN("primary"))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(e.kms.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs the function with its own local-kms and the given extra
// environment (which wins over the defaults).
func (e *emulatorEnv) start(t *testing.T, env ...string) (*emulated, *kmstest.Server) {
	t.Helper()
	fnKMS := kmstest.Start(t)
	all := append(fnKMS.Env(), lambdamw.EnvConfig+"="+itConfig(fnKMS.KeyARN("primary")), "AWS_LAMBDA_FUNCTION_TIMEOUT=30")
	return startEmulated(t, e.rie, e.bin, append(all, env...)...), fnKMS
}

// check hunts canaries in the answer and the function's output.
func check(t *testing.T, f *emulated, r invokeResult) {
	t.Helper()
	assertNoCanary(t, "response", string(r.body))
	assertNoCanary(t, "function output", f.logs.String())
}

// invokeCounting invokes f with event, hunts canaries in the answer, and
// returns it with the KMS requests the function made for it, by operation.
func invokeCounting(t *testing.T, f *emulated, fnKMS *kmstest.Server, event []byte) (invokeResult, map[string]int) {
	t.Helper()
	before := kmsCounts(fnKMS)
	r := f.invoke(t, event)
	check(t, f, r)
	after := kmsCounts(fnKMS)
	got := map[string]int{}
	for k := range after {
		got[k] = after[k] - before[k]
	}
	return r, got
}

func kmsCounts(s *kmstest.Server) map[string]int {
	return map[string]int{"GenerateDataKey": s.Requests("GenerateDataKey"), "Decrypt": s.Requests("Decrypt"), "all": s.Requests("")}
}

// TestUnderEmulator builds the test handler, runs it under the Lambda
// Runtime Interface Emulator with local-kms, and invokes it over HTTP.
func TestUnderEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function under the emulator")
	}
	e := &emulatorEnv{
		rie: testbin.Path(t, "aws-lambda-rie"),
		bin: testbin.Build(t, "lambdamw/internal/testhandler", "lambda.norpc"),
		kms: kmstest.Start(t),
	}

	t.Run("round trip and KMS calls per data key", func(t *testing.T) {
		t.Parallel()
		f, fnKMS := e.start(t, lambdamw.EnvErrorClass+"=diag")
		writerA, writerB := e.writer(t), e.writer(t)
		eventA := mustEncrypt(t, writerA, customerEvent("echo"))
		eventB := mustEncrypt(t, writerB, customerEvent("echo"))
		want := jsonValue(t, []byte(`{"greeting":"hello Ann","customer":{"name":"Ann","ssn":"`+canarySSN+`","phone":"`+canaryPhone+`"},"card":{"pan":"`+canaryCard+`","exp":"12/29"}}`))

		steps := []struct {
			name  string
			event []byte
			// KMS requests the function makes in this step.
			wantKMS map[string]int
			errType string
			result  any // the decrypted result, if not want
		}{
			// Cold: one Decrypt per data key of the event (pii, card); the
			// result holds the decrypted values unchanged, so their
			// tokens are given back, with no GenerateDataKey.
			{"cold", eventA, map[string]int{"GenerateDataKey": 0, "Decrypt": 2, "all": 2}, "", nil},
			{"warm, values changed: one GenerateDataKey for the class of the new values", mustEncrypt(t, writerA, customerEvent("rewrite")),
				map[string]int{"GenerateDataKey": 1, "Decrypt": 0, "all": 1}, "",
				jsonValue(t, []byte(`{"greeting":"rewritten","customer":{"name":"Ann","ssn":"checked `+canarySSN+`","phone":"`+canaryPhone+`"},"card":{"pan":"`+canaryCard+`","exp":"12/29"}}`))},
			{"warm, same event", eventA, map[string]int{"GenerateDataKey": 0, "Decrypt": 0, "all": 0}, "", nil},
			{"warm, new data keys", eventB, map[string]int{"GenerateDataKey": 0, "Decrypt": 2, "all": 2}, "", nil},
			{"handler error: one data key for the diag class", mustEncrypt(t, writerB, customerEvent("fail")),
				map[string]int{"GenerateDataKey": 1, "Decrypt": 0, "all": 1}, "PaymentDeclined", nil},
			{"handler error again", mustEncrypt(t, writerA, customerEvent("fail")), map[string]int{"GenerateDataKey": 0, "Decrypt": 0, "all": 0}, "PaymentDeclined", nil},
		}
		for _, s := range steps {
			r, got := invokeCounting(t, f, fnKMS, s.event)
			if diff := cmp.Diff(s.wantKMS, got); diff != "" {
				t.Errorf("%s: KMS requests mismatch (-want +got):\n%s", s.name, diff)
			}
			if r.errorType != s.errType {
				t.Fatalf("%s: errorType %q (%s), want %q", s.name, r.errorType, r.message, s.errType)
			}
			if s.errType != "" {
				continue
			}
			if n := countTokens(t, r.body); n["pii"] != 2 || n["card"] != 1 {
				t.Errorf("%s: result tokens %v, want 2 pii and 1 card", s.name, n)
			}
			w := any(want)
			if s.result != nil {
				w = s.result
			}
			if diff := cmp.Diff(w, jsonValue(t, mustDecrypt(t, writerA, r.body))); diff != "" {
				t.Errorf("%s: decrypted result mismatch (-want +got):\n%s", s.name, diff)
			}
		}
		// The middleware's records say the same.
		recs := f.recordsAtLeast(t, "lambdamw: invocation", len(steps))
		if len(recs) != len(steps) {
			t.Fatalf("%d invocation records, want %d", len(recs), len(steps))
		}
		wantCache := map[string]any{"decryptHits": 1.0, "decryptMisses": 2.0, "encryptHits": 0.0, "encryptMisses": 0.0}
		if diff := cmp.Diff(wantCache, recs[0]["cache"]); diff != "" {
			t.Errorf("cold invocation record: cache misses mismatch (-want +got):\n%s", diff)
		}
		if n := len(f.records(t, "lambdamw: ready")); n != 1 {
			t.Errorf("%d start-up records, want 1 (one codec per execution environment)", n)
		}
	})

	t.Run("moved and planted tokens stay tokens", func(t *testing.T) {
		t.Parallel()
		f, fnKMS := e.start(t)
		writer := e.writer(t)
		// A token that Parameters moved to "applicant", and one that a
		// history reader copied into the free-text "notes" of an
		// execution they started: the function decrypts neither.
		ssn, err := writer.EncryptValue(context.Background(), "pii", []byte(`"`+canarySSN+`"`))
		if err != nil {
			t.Fatal(err)
		}
		phone, err := writer.EncryptValue(context.Background(), "pii", []byte(`{"phone":"`+canaryPhone+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := f.invoke(t, []byte(`{"action":"echo-extra","applicant":"`+ssn+`","notes":"`+phone+`"}`))
		check(t, f, r)
		if r.errorType != "" {
			t.Fatalf("errorType %q: %s", r.errorType, r.message)
		}
		for _, tok := range []string{ssn, phone} {
			if !bytes.Contains(r.body, []byte(`"`+tok+`"`)) {
				t.Error("a token at an unselected path did not come back byte for byte")
			}
		}
		if n := fnKMS.Requests("Decrypt"); n != 0 {
			t.Errorf("%d Decrypt requests, want 0", n)
		}
	})

	t.Run("a decrypted value moved by the handler is sealed again", func(t *testing.T) {
		t.Parallel()
		f, _ := e.start(t)
		writer := e.writer(t)
		r := f.invoke(t, mustEncrypt(t, writer, customerEvent("move")))
		check(t, f, r)
		if r.errorType != "" {
			t.Fatalf("errorType %q: %s", r.errorType, r.message)
		}
		got := jsonValue(t, mustDecrypt(t, writer, r.body))
		want := jsonValue(t, []byte(`{"greeting":"moved","applicant":{"name":"Ann","ssn":"`+canarySSN+`","phone":"`+canaryPhone+`"}}`))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decrypted result mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("plaintext at a selected path is refused", func(t *testing.T) {
		t.Parallel()
		f, _ := e.start(t)
		r := f.invoke(t, []byte(customerEvent("echo")))
		check(t, f, r)
		if r.errorType != lambdamw.ErrorTypeContract {
			t.Errorf("errorType %q, want %s", r.errorType, lambdamw.ErrorTypeContract)
		}
	})

	t.Run("need to know", func(t *testing.T) {
		t.Parallel()
		f, fnKMS := e.start(t, lambdamw.EnvClasses+"=pii")
		event := mustEncrypt(t, e.writer(t), customerEvent("echo"))
		r := f.invoke(t, event)
		check(t, f, r)
		if r.errorType != "" {
			t.Fatalf("errorType %q: %s", r.errorType, r.message)
		}
		cards := tokensOf(t, event, "card")
		if len(cards) != 1 {
			t.Fatalf("event has %d card tokens", len(cards))
		}
		for tok := range cards {
			if !bytes.Contains(r.body, []byte(`"`+tok+`"`)) {
				t.Error("the card token did not come back byte for byte")
			}
		}
		// Only the pii data key was unwrapped.
		if n := fnKMS.Requests("Decrypt"); n != 1 {
			t.Errorf("%d Decrypt requests, want 1", n)
		}
	})

	t.Run("error types match the unwrapped handler", func(t *testing.T) {
		t.Parallel()
		writer := e.writer(t)
		for _, mode := range []string{"encrypted", "redacted"} {
			env := []string{}
			if mode == "encrypted" {
				env = append(env, lambdamw.EnvErrorClass+"=diag")
			}
			wrapped, _ := e.start(t, env...)
			unwrapped := startEmulated(t, e.rie, e.bin, "TESTHANDLER_UNWRAPPED=1")
			for _, action := range []string{"fail", "panic"} {
				plain := customerEvent(action)
				want := unwrapped.invoke(t, []byte(plain))
				got := wrapped.invoke(t, mustEncrypt(t, writer, plain))
				check(t, wrapped, got)
				if got.errorType == "" || got.errorType != want.errorType {
					t.Errorf("%s/%s: errorType %q, the unwrapped handler's is %q", mode, action, got.errorType, want.errorType)
				}
				switch mode {
				case "encrypted":
					var msg string
					if err := json.Unmarshal(mustDecrypt(t, writer, []byte(strconv.Quote(got.message))), &msg); err != nil {
						t.Fatalf("%s: message %q: %v", action, got.message, err)
					}
					if msg != want.message {
						t.Errorf("%s: decrypted message %q, the unwrapped handler's is %q", action, msg, want.message)
					}
				case "redacted":
					if got.message != lambdamw.RedactedMessage {
						t.Errorf("%s: message %q, want %q", action, got.message, lambdamw.RedactedMessage)
					}
				}
			}
			// After a panic the process exits, as without the middleware;
			// the emulator starts a new one for the next invocation.
			r := wrapped.invoke(t, mustEncrypt(t, writer, customerEvent("echo")))
			check(t, wrapped, r)
			if r.errorType != "" {
				t.Errorf("invocation after a panic: errorType %q: %s", r.errorType, r.message)
			}
		}
	})

	t.Run("KMS outage", func(t *testing.T) {
		t.Parallel()
		f, fnKMS := e.start(t)
		writer := e.writer(t)
		warm := mustEncrypt(t, writer, customerEvent("echo"))
		if r := f.invoke(t, warm); r.errorType != "" {
			t.Fatalf("before the outage: errorType %q: %s", r.errorType, r.message)
		}
		fnKMS.Stop()
		// Cached keys still serve the event already seen.
		r := f.invoke(t, warm)
		check(t, f, r)
		if r.errorType != "" {
			t.Errorf("cached keys: errorType %q: %s", r.errorType, r.message)
		}
		// New data keys need KMS.
		r = f.invoke(t, mustEncrypt(t, e.writer(t), customerEvent("echo")))
		check(t, f, r)
		if r.errorType != lambdamw.ErrorTypeKeyUnavailable {
			t.Errorf("errorType %q (%s), want %q", r.errorType, r.message, lambdamw.ErrorTypeKeyUnavailable)
		}
	})

	t.Run("KMS endpoint closed", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		l.Close()
		f, _ := e.start(t, "AWS_ENDPOINT_URL_KMS="+closed)
		r := f.invoke(t, mustEncrypt(t, e.writer(t), customerEvent("echo")))
		check(t, f, r)
		if r.errorType != lambdamw.ErrorTypeKeyUnavailable {
			t.Errorf("errorType %q (%s), want %q", r.errorType, r.message, lambdamw.ErrorTypeKeyUnavailable)
		}
	})

	faults := []struct {
		name    string
		env     []string
		fault   kmstest.Fault
		event   func(t *testing.T) []byte
		errType string
	}{
		{
			// KMS does not answer: the middleware gives up a margin before
			// the function's 3-second timeout and reports it, rather than
			// being killed by the timeout.
			name:    "KMS slower than the deadline",
			env:     []string{"AWS_LAMBDA_FUNCTION_TIMEOUT=3"},
			fault:   kmstest.Fault{Op: "Decrypt", Kind: kmstest.Delay, Delay: time.Minute},
			errType: lambdamw.ErrorTypeKeyUnavailable,
		},
		{
			name:    "KMS throttles every request",
			fault:   kmstest.Fault{Op: "Decrypt", Kind: kmstest.Throttle},
			errType: lambdamw.ErrorTypeKeyUnavailable,
		},
		{
			name:    "Decrypt denied",
			fault:   kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied},
			errType: lambdamw.ErrorTypeDecrypt,
		},
		{
			// Fail closed: the handler returned plaintext, which must not
			// leave when it cannot be encrypted.
			name:    "GenerateDataKey denied",
			fault:   kmstest.Fault{Op: "GenerateDataKey", Kind: kmstest.AccessDenied},
			event:   func(t *testing.T) []byte { return mustEncrypt(t, e.writer(t), customerEvent("rewrite")) },
			errType: lambdamw.ErrorTypeEncrypt,
		},
		{
			name:    "GenerateDataKey unavailable",
			fault:   kmstest.Fault{Op: "GenerateDataKey", Kind: kmstest.Unavailable},
			event:   func(t *testing.T) []byte { return mustEncrypt(t, e.writer(t), customerEvent("rewrite")) },
			errType: lambdamw.ErrorTypeKeyUnavailable,
		},
		{
			name:    "tampered token",
			event:   func(t *testing.T) []byte { return tamper(t, mustEncrypt(t, e.writer(t), customerEvent("echo"))) },
			errType: lambdamw.ErrorTypeDecrypt,
		},
		{
			name: "result too large",
			event: func(t *testing.T) []byte {
				return mustEncrypt(t, e.writer(t), `{"action":"big","size":64,"blobSize":3000,"customer":{"ssn":"`+canarySSN+`"}}`)
			},
			errType: lambdamw.ErrorTypeResultTooLarge,
		},
		{
			name:    "no configuration",
			env:     []string{lambdamw.EnvConfig + "="},
			errType: lambdamw.ErrorTypeConfig,
		},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, fnKMS := e.start(t, tc.env...)
			// Start the function first (an event without tokens needs no
			// KMS call), so that the fault meets a warm function.
			f.invoke(t, []byte(`{"action":"echo"}`))
			if tc.fault.Kind != 0 {
				fnKMS.Inject(tc.fault)
			}
			event := mustEncrypt(t, e.writer(t), customerEvent("echo"))
			if tc.event != nil {
				event = tc.event(t)
			}
			r := f.invoke(t, event)
			check(t, f, r)
			if r.errorType != tc.errType {
				t.Errorf("errorType %q (%s), want %q", r.errorType, r.message, tc.errType)
			}
			if !strings.HasPrefix(r.message, "lambdamw: ") {
				t.Errorf("message %q does not come from the middleware", r.message)
			}
		})
	}

	t.Run("Step Functions Retry and Catch", func(t *testing.T) {
		t.Parallel()
		stepFunctionsCatch(t, e)
	})
}

// stepFunctionsCatch runs a state machine on the local Step Functions
// interpreter (aws-local-stepfunctions, driven by testdata/sfn/run.mjs) whose
// Task is the wrapped function, and checks that Retry and Catch rules match
// the handler's error type name and the middleware's.
func stepFunctionsCatch(t *testing.T, e *emulatorEnv) {
	script, err := filepath.Abs("testdata/sfn/run.mjs")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, pkgErr := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "aws-local-stepfunctions", "package.json"))
	if nodeErr != nil || pkgErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or the npm packages of testdata/sfn are missing: %v %v", nodeErr, pkgErr)
		}
		t.Skipf("skipping: node or the npm packages of testdata/sfn are missing (make node-deps): %v %v", nodeErr, pkgErr)
	}
	f, fnKMS := e.start(t, lambdamw.EnvErrorClass+"=diag")
	dir := t.TempDir()
	definition := filepath.Join(dir, "definition.json")
	err = os.WriteFile(definition, []byte(`{
	  "StartAt": "Charge",
	  "States": {
	    "Charge": {
	      "Type": "Task",
	      "Resource": "arn:aws:lambda:eu-west-2:111122223333:function:charge",
	      "Retry": [{"ErrorEquals": ["sfnenc.KeyServiceUnavailable"], "MaxAttempts": 2}],
	      "Catch": [
	        {"ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "Declined"},
	        {"ErrorEquals": ["sfnenc.DecryptError"], "ResultPath": "$.error", "Next": "BadInput"}
	      ],
	      "ResultPath": "$.result",
	      "Next": "Done"
	    },
	    "Declined": {"Type": "Pass", "Result": "declined", "ResultPath": "$.outcome", "End": true},
	    "BadInput": {"Type": "Pass", "Result": "bad input", "ResultPath": "$.outcome", "End": true},
	    "Done": {"Type": "Pass", "Result": "charged", "ResultPath": "$.outcome", "End": true}
	  }
	}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	writer := e.writer(t)
	type execution struct {
		Status string
		Output struct {
			Outcome string
			Error   struct{ Error, Cause string }
		}
		Error string
	}
	tests := []struct {
		name  string
		input []byte
		fault *kmstest.Fault
		want  execution
	}{
		{"success", mustEncrypt(t, writer, customerEvent("echo")), nil,
			execution{Status: "SUCCEEDED", Output: outcome("charged", "")}},
		{"handler error caught by its type name", mustEncrypt(t, writer, customerEvent("fail")), nil,
			execution{Status: "SUCCEEDED", Output: outcome("declined", "PaymentDeclined")}},
		{"middleware error caught by its type name", tamper(t, mustEncrypt(t, writer, customerEvent("echo"))), nil,
			execution{Status: "SUCCEEDED", Output: outcome("bad input", lambdamw.ErrorTypeDecrypt)}},
		// KMS throttles the first attempt's requests (the SDK's three);
		// the Retry on the middleware's type name gets through.
		{"middleware error retried", mustEncrypt(t, e.writer(t), customerEvent("echo")),
			&kmstest.Fault{Op: "Decrypt", Kind: kmstest.Throttle, Count: 3},
			execution{Status: "SUCCEEDED", Output: outcome("charged", "")}},
		{"middleware error not caught", mustEncrypt(t, e.writer(t), `{"action":"big","size":64,"blobSize":3000}`), nil,
			execution{Status: "FAILED", Error: lambdamw.ErrorTypeResultTooLarge}},
	}
	for i, tc := range tests {
		if tc.fault != nil {
			fnKMS.Inject(*tc.fault)
		}
		in := filepath.Join(dir, fmt.Sprintf("input-%d.json", i))
		if err := os.WriteFile(in, tc.input, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("node", script, definition, in, f.url)
		cmd.Dir = filepath.Dir(script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: run.mjs: %v\n%s", tc.name, err, stderr.Bytes())
		}
		assertNoCanary(t, tc.name+": execution", string(out))
		var got execution
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, out)
		}
		// The cause is the function's error report, with the message
		// encrypted: leave it out of the comparison.
		got.Output.Error.Cause = ""
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: execution mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	assertNoCanary(t, "function output", f.logs.String())
}

func outcome(o, errType string) struct {
	Outcome string
	Error   struct{ Error, Cause string }
} {
	v := struct {
		Outcome string
		Error   struct{ Error, Cause string }
	}{Outcome: o}
	v.Error.Error = errType
	return v
}
