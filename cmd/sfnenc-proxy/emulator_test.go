package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestExec runs "sfnenc-proxy exec --" in front of a plain aws-lambda-go
// handler that does not import sfnenc, and in front of a Node.js handler run
// by AWS's Node.js runtime interface client, under the Lambda Runtime
// Interface Emulator with local-kms.
func TestExec(t *testing.T) {
	e := newEnv(t)
	for _, rt := range runtimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			argv := rt.command(t, e)
			f := e.startExec(t, argv)
			c := e.codec(t)

			t.Run("round trip", func(t *testing.T) {
				event := e.encrypt(t, customerEvent("echo"))
				r := f.invoke(t, event)
				if r.errorType != "" {
					t.Fatalf("invoke failed: %s: %s", r.errorType, r.message)
				}
				// The handler saw plaintext...
				seen := f.seenEvents(t)
				if len(seen) != 1 {
					t.Fatalf("the handler saw %d events, want 1", len(seen))
				}
				for _, ev := range seen {
					for _, want := range canaries {
						if !strings.Contains(ev, want) {
							t.Errorf("the handler did not see the plaintext %q", want)
						}
					}
				}
				// ...and what came back holds tokens wherever a
				// decrypted value landed.
				for _, p := range [][]string{{"customer", "ssn"}, {"customer", "phone"}} {
					if !tokenAt(t, r.body, "pii", p...) {
						t.Errorf("%v is not a pii token in the result: %.500s", p, r.body)
					}
				}
				if !tokenAt(t, r.body, "card", "card") {
					t.Errorf("card is not a card token in the result: %.500s", r.body)
				}
				noCanary(t, "result", string(r.body))
				plain, err := c.Decrypt(context.Background(), r.body)
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]any
				if err := json.Unmarshal(plain, &got); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"greeting": "hello Ann",
					"customer": map[string]any{"name": "Ann", "ssn": canarySSN, "phone": canaryPhone},
					"card":     map[string]any{"pan": canaryCard, "exp": "12/29"}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("decrypted result mismatch (-want +got):\n%s", diff)
				}
				rec := f.records(t)
				if !slices.ContainsFunc(rec, func(m map[string]any) bool {
					return m["msg"] == "lambdamw: invocation" && m["outcome"] == "ok"
				}) {
					t.Errorf("no lambdamw invocation record with outcome ok: %v", rec)
				}
			})

			t.Run("handler error: type kept, message sealed, trace dropped", func(t *testing.T) {
				// A function of its own: the runtime itself prints the
				// error's message (aws-lambda-go's log line, the Node.js
				// client's "Invoke Error"), which the proxy cannot
				// scrub (SECURITY.md); the other function's whole
				// output is checked for canaries below.
				f := e.startExec(t, argv)
				r := f.invoke(t, e.encrypt(t, customerEvent("fail")))
				if r.errorType != "PaymentDeclined" {
					t.Fatalf("errorType = %q, want PaymentDeclined (%s)", r.errorType, r.body)
				}
				slices.Sort(r.fields)
				if diff := cmp.Diff([]string{"errorMessage", "errorType"}, r.fields); diff != "" {
					t.Errorf("members of the error report (-want +got):\n%s", diff)
				}
				if !tokenAt(t, []byte(strconv.Quote(r.message)), "diag") {
					t.Fatalf("the message is not a diag token: %q", r.message)
				}
				msg, err := c.Decrypt(context.Background(), []byte(strconv.Quote(r.message)))
				if err != nil {
					t.Fatalf("the message does not decrypt: %v", err)
				}
				if want := strconv.Quote("payment declined for " + canarySSN); string(msg) != want {
					t.Errorf("sealed message = %s, want %s", msg, want)
				}
				noCanary(t, "error report", string(r.body))
				noCanary(t, "the contract's and the proxy's records", f.proxyOutput(t))
				if !strings.Contains(f.logs.String(), canarySSN) {
					t.Logf("the runtime did not print the error's message itself")
				}
			})

			t.Run("strict read: plaintext at a rule's path, handler not called", func(t *testing.T) {
				before := len(f.seenEvents(t))
				r := f.invoke(t, customerEvent("echo"))
				if r.errorType != "sfnenc.ContractError" {
					t.Fatalf("errorType = %q, want sfnenc.ContractError (%s)", r.errorType, r.body)
				}
				if n := len(f.seenEvents(t)); n != before {
					t.Errorf("the handler was called for an event that breaks the contract")
				}
				noCanary(t, "error report", string(r.body))
				// The runtime still waits for its next event, and gets it.
				if r := f.invoke(t, e.encrypt(t, customerEvent("echo"))); r.errorType != "" {
					t.Errorf("the invocation after a refused one failed: %s: %s", r.errorType, r.message)
				}
			})

			t.Run("result too large", func(t *testing.T) {
				r := f.invoke(t, e.encrypt(t, []byte(`{"action":"big","size":4,"blobSize":60000}`)))
				if r.errorType != "sfnenc.ResultTooLarge" {
					t.Fatalf("errorType = %q, want sfnenc.ResultTooLarge (%.300s)", r.errorType, r.body)
				}
			})

			t.Run("runtime context: every header passes", func(t *testing.T) {
				cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"acme"},"client":{"installation_id":"inst-1"}}`))
				hdr := []string{"X-Amz-Client-Context", cc,
					"X-Amz-Cognito-Identity", `{"cognitoIdentityId":"eu-west-2:id-1","cognitoIdentityPoolId":"eu-west-2:pool-1"}`,
					"X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
					"X-Amz-Tenant-Id", "tenant-7"}
				r := f.invoke(t, e.encrypt(t, []byte(`{"action":"context"}`)), hdr...)
				if r.errorType != "" {
					t.Fatalf("invoke failed: %s: %s", r.errorType, r.message)
				}
				var got struct {
					Context map[string]any `json:"context"`
				}
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatal(err)
				}
				s := fmt.Sprint(got.Context)
				for _, want := range []string{"acme", "inst-1", "eu-west-2:id-1", "eu-west-2:pool-1", "arn:aws:lambda:"} {
					if !strings.Contains(s, want) {
						t.Errorf("the handler's context lacks %q: %s", want, s)
					}
				}
				if got.Context["requestId"] == "" || got.Context["deadlineMs"] == nil {
					t.Errorf("no request id or deadline: %s", s)
				}
				if rt.name == "go" && got.Context["tenantId"] != "tenant-7" {
					t.Errorf("tenant id = %v, want tenant-7", got.Context["tenantId"])
				}
				// And all of it as the same runtime sees it without the
				// proxy, request id and deadline aside.
				direct := e.startDirect(t, argv)
				d := direct.invoke(t, []byte(`{"action":"context"}`), hdr...)
				var want struct {
					Context map[string]any `json:"context"`
				}
				if err := json.Unmarshal(d.body, &want); err != nil {
					t.Fatalf("direct: %v: %s", err, d.body)
				}
				for _, m := range []map[string]any{got.Context, want.Context} {
					delete(m, "requestId")
					delete(m, "deadlineMs")
				}
				if diff := cmp.Diff(want.Context, got.Context); diff != "" {
					t.Errorf("context behind the proxy differs from the direct one (-direct +proxy):\n%s", diff)
				}
			})

			t.Run("runtime crashes mid-invocation", func(t *testing.T) {
				r := f.invoke(t, e.encrypt(t, customerEvent("crash")))
				if r.errorType == "" {
					t.Fatalf("a crashed invocation did not fail: %.300s", r.body)
				}
				noCanary(t, "error report", string(r.body))
				// The emulator starts the function again.
				if r := f.invoke(t, e.encrypt(t, customerEvent("echo"))); r.errorType != "" {
					t.Errorf("the invocation after a crash failed: %s: %s", r.errorType, r.message)
				}
			})

			t.Run("no canary in the proxy's output", func(t *testing.T) {
				noCanary(t, "the contract's and the proxy's records", f.proxyOutput(t))
				if rt.name == "go" {
					// aws-lambda-go writes nothing of the error; the
					// emulator's and the proxy's lines hold no value.
					noCanary(t, "the function's whole output", f.logs.String())
				}
			})
		})
	}
}

// TestExecFaults plays KMS failures under the emulator: the proxy reports
// them itself, and the handler never sees the event.
func TestExecFaults(t *testing.T) {
	e := newEnv(t)
	t.Run("KMS down", func(t *testing.T) {
		t.Parallel()
		f := e.startExec(t, []string{e.goHandler}, "AWS_MAX_ATTEMPTS=2")
		f.kms.Stop()
		r := f.invoke(t, e.encrypt(t, customerEvent("echo")))
		if r.errorType != "sfnenc.KeyServiceUnavailable" {
			t.Fatalf("errorType = %q, want sfnenc.KeyServiceUnavailable (%s)", r.errorType, r.body)
		}
		if n := len(f.seenEvents(t)); n != 0 {
			t.Errorf("the handler saw %d events", n)
		}
		noCanary(t, "output", f.logs.String()+string(r.body))
	})
	t.Run("deadline expires while KMS is slow", func(t *testing.T) {
		t.Parallel()
		f := e.startExec(t, []string{e.goHandler}, "AWS_LAMBDA_FUNCTION_TIMEOUT=3")
		f.kms.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.Delay, Delay: time.Minute})
		r := f.invoke(t, e.encrypt(t, customerEvent("echo")))
		// The contract gives up a margin before the deadline and says
		// why, instead of the function timing out.
		if r.errorType != "sfnenc.KeyServiceUnavailable" {
			t.Fatalf("errorType = %q, want sfnenc.KeyServiceUnavailable (%s)", r.errorType, r.body)
		}
		if n := len(f.seenEvents(t)); n != 0 {
			t.Errorf("the handler saw %d events", n)
		}
		noCanary(t, "output", f.logs.String()+string(r.body))
	})
}

// TestExtension runs the proxy as Lambda runs it for a managed runtime:
// the layer at /opt, the extension started by the emulator, the runtime
// started through AWS_LAMBDA_EXEC_WRAPPER=/opt/sfnenc-wrapper.
func TestExtension(t *testing.T) {
	e := newEnv(t)
	for _, rt := range runtimes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			f := e.startLayered(t, rt.command(t, e))
			c := e.codec(t)
			r := f.invoke(t, e.encrypt(t, customerEvent("echo")))
			if r.errorType != "" {
				t.Fatalf("invoke failed: %s: %s", r.errorType, r.message)
			}
			if !tokenAt(t, r.body, "pii", "customer", "ssn") || !tokenAt(t, r.body, "card", "card") {
				t.Errorf("the result is not sealed: %.500s", r.body)
			}
			plain, err := c.Decrypt(context.Background(), r.body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(plain), canarySSN) {
				t.Errorf("the handler did not get the plaintext back to return it: %s", plain)
			}
			if r := f.invoke(t, customerEvent("echo")); r.errorType != "sfnenc.ContractError" {
				t.Errorf("plaintext at a rule's path: errorType = %q, want sfnenc.ContractError", r.errorType)
			}
			if n := len(f.seenEvents(t)); n != 1 {
				t.Errorf("the handler saw %d events, want 1", n)
			}
			if !slices.ContainsFunc(f.records(t), func(m map[string]any) bool {
				return m["msg"] == "sfnenc-proxy: ready" && m["mode"] == "extension"
			}) {
				t.Errorf("the proxy did not run as an extension")
			}
			noCanary(t, "output", f.logs.String()+string(r.body))
		})
	}
	t.Run("wrapper without the extension fails closed", func(t *testing.T) {
		t.Parallel()
		f := e.startLayeredWithout(t, []string{e.goHandler})
		r := f.invoke(t, e.encrypt(t, customerEvent("echo")))
		if r.errorType == "" {
			t.Fatalf("the function ran without reaching the proxy: %.300s", r.body)
		}
		if n := len(f.seenEvents(t)); n != 0 {
			t.Errorf("the handler saw %d events", n)
		}
	})
}

// TestManagedInstances runs the proxy in front of a handler that takes
// several invocations at once, in the emulator's Managed Instances mode
// (AWS_LAMBDA_MAX_CONCURRENCY), as an extension (the emulator's Managed
// Instances mode only starts a bootstrap from its fixed places): each
// answer must be its own event's.
func TestManagedInstances(t *testing.T) {
	e := newEnv(t)
	f := e.startLayered(t, []string{e.goHandler}, "AWS_LAMBDA_MAX_CONCURRENCY=4")
	const n = 12
	var wg sync.WaitGroup
	results := make([]result, n)
	events := make([][]byte, n)
	for i := range n {
		events[i] = e.encrypt(t, []byte(fmt.Sprintf(`{"action":"sleep","sleepMs":200,"customer":{"name":"N%d","ssn":"%s-%d"}}`, i, canarySSN, i)))
	}
	// Two at a time for four workers: the emulator answers
	// Runtime.Unavailable when no worker is waiting in next (where Lambda
	// would route the invocation to another environment), and a worker
	// calls next again only after its answer went out.
	slots := make(chan struct{}, 2)
	for i := range n {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i] = f.invoke(t, events[i])
		})
	}
	wg.Wait()
	c := e.codec(t)
	for i, r := range results {
		if r.errorType != "" {
			t.Errorf("invocation %d: %s: %s", i, r.errorType, r.message)
			continue
		}
		plain, err := c.Decrypt(context.Background(), r.body)
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		want := fmt.Sprintf(`"greeting":"hello N%d","customer":{"name":"N%d","ssn":"%s-%d"}`, i, i, canarySSN, i)
		if !strings.Contains(string(plain), want) {
			t.Errorf("invocation %d got another's answer: %s", i, plain)
		}
		noCanary(t, "result", string(r.body))
	}
	if got := len(f.seenEvents(t)); got != n {
		t.Errorf("the handler saw %d events, want %d", got, n)
	}
	noCanary(t, "output", f.logs.String())
}

// TestExecWrites: SFNENC_WRITES reaches the proxy through lambdamw's
// contract. A handler (a plain aws-lambda-go one, under the emulator) that
// returns the pii it was given, to a function that may write card and diag
// only, fails with sfnenc.EncryptError naming pii, before any
// GenerateDataKey, and the value is in no report or record.
func TestExecWrites(t *testing.T) {
	e := newEnv(t)
	f := e.startExec(t, runtimes[0].command(t, e), "SFNENC_WRITES=card,diag")
	// The handler changes the SSN, a value of class pii, which it may not
	// write (returned unchanged, it would go back as its own token).
	event := e.encrypt(t, customerEvent("rewrite"))
	f.kms.ResetCounts()
	r := f.invoke(t, event)
	if r.errorType != "sfnenc.EncryptError" || !strings.Contains(r.message, "class pii") {
		t.Fatalf("errorType %q, message %q; want sfnenc.EncryptError naming class pii", r.errorType, r.message)
	}
	if n := f.kms.Requests("GenerateDataKey"); n != 0 {
		t.Errorf("%d GenerateDataKey requests, want none", n)
	}
	noCanary(t, "error report", string(r.body))
	noCanary(t, "the contract's and the proxy's records", f.proxyOutput(t))
}
