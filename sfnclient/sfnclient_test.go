package sfnclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/leaktest"
	"github.com/sfnenc/sfnenc/sfnclient"
)

// Canary values: tests send them and hunt for them in every recorded
// request body and error, where they must never appear.
const (
	canarySSN  = "CANARY-SSN-31c9aa"
	canaryCard = "CANARY-PAN-5105"
	canaryWhy  = "CANARY-CAUSE-77e0"
)

var canaries = []string{canarySSN, canaryCard, canaryWhy}

func assertNoCanary(t testing.TB, what, s string) {
	t.Helper()
	leaktest.Check(t, what, s, canaries...)
}

const rules = `[
	{"class":"pii","keyring":"dev","select":["$..ssn"]},
	{"class":"card","keyring":"dev","select":["$..card"]},
	{"class":"diag","keyring":"dev","select":["$.diagnostics"]}
]`

func localCodec(t testing.TB, opts ...codec.Option) *codec.Codec {
	t.Helper()
	ks, err := filepath.Abs("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.ParseConfig([]byte(`{"encryptionContext":{"app":"sfnclient-test"},"keyrings":{"dev":{"insecureLocalKeyset":"` + ks + `"}},"rules":` + rules + `}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var document = `{"order":"o-1","customer":{"name":"Ann","ssn":"` + canarySSN + `"},"card":{"pan":"` + canaryCard + `"},"amount":12.5}`

// tokens counts the tokens in a JSON document by class.
func tokens(t testing.TB, doc string) map[string]int {
	t.Helper()
	return leaktest.TokenClasses(t, []byte(doc))
}

// field returns a string field of a recorded request body.
func field(t testing.TB, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}

func jsonValue(t testing.TB, doc string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, doc)
	}
	return v
}

// TestRequestsHoldTokens sends each payload-carrying operation through the
// real client and checks what the endpoint received: tokens, no plaintext,
// and the caller's input untouched.
func TestRequestsHoldTokens(t *testing.T) {
	c := localCodec(t)
	startIn := &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"), Input: aws.String(document)}
	syncIn := &sfn.StartSyncExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:express"), Input: aws.String(document)}
	successIn := &sfn.SendTaskSuccessInput{TaskToken: aws.String("token-1"), Output: aws.String(document)}
	failureIn := &sfn.SendTaskFailureInput{TaskToken: aws.String("token-2"), Error: aws.String("Declined"), Cause: aws.String("no funds for " + canaryCard)}
	stopIn := &sfn.StopExecutionInput{ExecutionArn: aws.String("arn:aws:states:eu-west-2:111122223333:execution:orders:x"), Cause: aws.String("stopped for " + canaryWhy)}
	ctx := context.Background()
	tests := []struct {
		op     string
		call   func(*sfn.Client) error
		field  string
		want   map[string]int // tokens by class in the field
		caller *string        // the caller's payload, which must not change
	}{
		{"StartExecution", func(cl *sfn.Client) error { _, err := cl.StartExecution(ctx, startIn); return err },
			"input", map[string]int{"pii": 1, "card": 1}, startIn.Input},
		{"StartSyncExecution", func(cl *sfn.Client) error { _, err := cl.StartSyncExecution(ctx, syncIn); return err },
			"input", map[string]int{"pii": 1, "card": 1}, syncIn.Input},
		{"SendTaskSuccess", func(cl *sfn.Client) error { _, err := cl.SendTaskSuccess(ctx, successIn); return err },
			"output", map[string]int{"pii": 1, "card": 1}, successIn.Output},
		{"SendTaskFailure", func(cl *sfn.Client) error { _, err := cl.SendTaskFailure(ctx, failureIn); return err },
			"cause", map[string]int{"diag": 1}, failureIn.Cause},
		{"StopExecution", func(cl *sfn.Client) error { _, err := cl.StopExecution(ctx, stopIn); return err },
			"cause", map[string]int{"diag": 1}, stopIn.Cause},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			fake := newFakeSFN()
			defer fake.Close()
			before := *tc.caller
			cl := fake.client(sfnclient.WithEncryption(c, sfnclient.WithCauseClass("diag")))
			if err := tc.call(cl); err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 || reqs[0].Op != tc.op {
				t.Fatalf("requests %v, want one %s", reqs, tc.op)
			}
			assertNoCanary(t, "request body", reqs[0].Body)
			got := field(t, reqs[0].Body, tc.field)
			if tc.field == "cause" {
				// The cause is one token, not a JSON document.
				got = fmt.Sprintf("%q", got)
			}
			if diff := cmp.Diff(tc.want, tokens(t, got)); diff != "" {
				t.Errorf("tokens in %s mismatch (-want +got):\n%s", tc.field, diff)
			}
			plain, err := c.Decrypt(context.Background(), []byte(got))
			if err != nil {
				t.Fatal(err)
			}
			var wantPlain string
			if tc.field == "cause" {
				js, _ := json.Marshal(before)
				wantPlain = string(js)
			} else {
				wantPlain = before
			}
			if string(plain) != wantPlain {
				t.Errorf("decrypted %s = %s, want %s", tc.field, plain, wantPlain)
			}
			if after := *tc.caller; after != before {
				t.Errorf("the caller's %s changed to %.80s", tc.field, after)
			}
		})
	}
}

// TestDecryption checks that responses are decrypted only with
// WithDecryption, and only for the classes the codec may read.
func TestDecryption(t *testing.T) {
	ctx := context.Background()
	writer := localCodec(t)
	encrypted, err := writer.Encrypt(ctx, []byte(document))
	if err != nil {
		t.Fatal(err)
	}
	cardOnly := func(t *testing.T) []byte { // the document with only the card encrypted
		out, err := localCodec(t, codec.WithClasses("pii")).Decrypt(ctx, encrypted)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name    string
		opts    []sfnclient.Option
		copts   []codec.Option
		want    func(t *testing.T) string
		plainIn bool // the response's input is plaintext too
	}{
		{"without WithDecryption", nil, nil, func(*testing.T) string { return string(encrypted) }, false},
		{"WithDecryption", []sfnclient.Option{sfnclient.WithDecryption()}, nil, func(*testing.T) string { return document }, true},
		{"WithDecryption, need to know", []sfnclient.Option{sfnclient.WithDecryption()}, []codec.Option{codec.WithClasses("pii")},
			func(t *testing.T) string { return string(cardOnly(t)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeSFN()
			defer fake.Close()
			fake.activityInput = string(encrypted)
			cl := fake.client(sfnclient.WithEncryption(localCodec(t, tc.copts...), tc.opts...))
			want := tc.want(t)

			started, err := cl.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"), Input: aws.String(document)})
			if err != nil {
				t.Fatal(err)
			}
			desc, err := cl.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			sync, err := cl.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:express"), Input: aws.String(document)})
			if err != nil {
				t.Fatal(err)
			}
			task, err := cl.GetActivityTask(ctx, &sfn.GetActivityTaskInput{ActivityArn: aws.String("arn:aws:states:eu-west-2:111122223333:activity:check")})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range fake.Requests() {
				assertNoCanary(t, r.Op+" request", r.Body)
			}
			for name, got := range map[string]*string{
				"DescribeExecution output":  desc.Output,
				"DescribeExecution input":   desc.Input,
				"StartSyncExecution output": sync.Output,
				"StartSyncExecution input":  sync.Input,
				"GetActivityTask input":     task.Input,
			} {
				if got == nil {
					t.Errorf("%s is absent", name)
					continue
				}
				// Tokens made by different writers differ; compare what
				// stays encrypted by class and what is plaintext by value.
				if diff := cmp.Diff(tokens(t, want), tokens(t, *got)); diff != "" {
					t.Errorf("%s: tokens mismatch (-want +got):\n%s", name, diff)
				}
				if len(tokens(t, want)) == 0 {
					if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, *got)); diff != "" {
						t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
					}
				}
			}
		})
	}
}

// TestIdempotent checks that tokens already in a payload (made by a Lambda
// function, say) are sent byte for byte.
func TestIdempotent(t *testing.T) {
	ctx := context.Background()
	encrypted, err := localCodec(t).Encrypt(ctx, []byte(document))
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeSFN()
	defer fake.Close()
	cl := fake.client(sfnclient.WithEncryption(localCodec(t)))
	if _, err := cl.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("t"), Output: aws.String(string(encrypted))}); err != nil {
		t.Fatal(err)
	}
	if got := field(t, fake.Requests()[0].Body, "output"); got != string(encrypted) {
		t.Errorf("output changed:\n got %s\nwant %s", got, encrypted)
	}
}

// TestRetriesEncryptOnce checks that the payload is encrypted once per
// call: the SDK's retries send the same tokens.
func TestRetriesEncryptOnce(t *testing.T) {
	fake := newFakeSFN()
	defer fake.Close()
	fake.failFirst = 2
	cl := fake.client(sfnclient.WithEncryption(localCodec(t)))
	if _, err := cl.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"), Input: aws.String(document)}); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two throttled)", len(reqs))
	}
	for _, r := range reqs[1:] {
		if field(t, r.Body, "input") != field(t, reqs[0].Body, "input") {
			t.Error("a retry sent a different input")
		}
	}
}

// TestFailures checks that a payload that cannot be encrypted is never
// sent, and that errors say why without a value.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	kms := kmstest.Start(t)
	kmsCodec := func(t *testing.T) *codec.Codec {
		cfg, err := codec.ParseConfig([]byte(`{"keyrings":{"dev":{"kms":{"keyArn":"` + kms.KeyARN("primary") + `"}}},"rules":` + rules + `}`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := codec.New(ctx, cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	start := func(input string) func(*sfn.Client) error {
		return func(cl *sfn.Client) error {
			_, err := cl.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"), Input: aws.String(input)})
			return err
		}
	}
	local := func(t *testing.T) *codec.Codec { return localCodec(t) }
	big := `{"ssn":"` + canarySSN + `","blobs":["` + strings.Repeat("x", 262100) + `"]}`
	tampered := func(t *testing.T) string {
		enc, err := localCodec(t).Encrypt(ctx, []byte(document))
		if err != nil {
			t.Fatal(err)
		}
		// Flip a bit of the first token's tag, in its binary form, so the
		// token stays well-formed but fails authentication.
		i := bytes.Index(enc, []byte(`"sfnenc:`))
		end := i + 1 + bytes.IndexByte(enc[i+1:], '"')
		tok, err := format.Decode(enc[i+1:end], nil)
		if err != nil {
			t.Fatal(err)
		}
		body := append(bytes.Clone(tok.Header), tok.Payload...)
		body[len(body)-1] ^= 1
		return string(enc[:i+1]) + string(format.AppendText(nil, body)) + string(enc[end:])
	}
	tests := []struct {
		name    string
		codec   func(t *testing.T) *codec.Codec
		opts    []sfnclient.Option
		fault   *kmstest.Fault
		call    func(t *testing.T) func(*sfn.Client) error
		want    error
		wantOps []string // requests the endpoint should see
	}{
		{"invalid JSON input", local, nil, nil,
			func(*testing.T) func(*sfn.Client) error { return start(`{"ssn":"` + canarySSN + `"`) }, codec.ErrInvalidDocument, nil},
		{"too large after encryption", local, nil, nil,
			func(*testing.T) func(*sfn.Client) error { return start(big) }, sfnclient.ErrTooLarge, nil},
		{"unknown cause class", local, []sfnclient.Option{sfnclient.WithCauseClass("nosuch")}, nil,
			func(*testing.T) func(*sfn.Client) error {
				return func(cl *sfn.Client) error {
					_, err := cl.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String("t"), Cause: aws.String(canaryWhy)})
					return err
				}
			}, codec.ErrUnknownClass, nil},
		{"KMS denies", kmsCodec, nil, &kmstest.Fault{Op: "GenerateDataKey", Kind: kmstest.AccessDenied},
			func(*testing.T) func(*sfn.Client) error { return start(document) }, envelope.ErrDenied, nil},
		{"KMS unavailable", kmsCodec, nil, &kmstest.Fault{Op: "GenerateDataKey", Kind: kmstest.Unavailable},
			func(*testing.T) func(*sfn.Client) error { return start(document) }, envelope.ErrUnavailable, nil},
		{"response token cannot be decrypted", local, []sfnclient.Option{sfnclient.WithDecryption()}, nil,
			func(t *testing.T) func(*sfn.Client) error {
				in := tampered(t)
				return func(cl *sfn.Client) error {
					_, err := cl.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:express"), Input: aws.String(in)})
					return err
				}
			}, codec.ErrAuthentication, []string{"StartSyncExecution"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kms.ClearFaults()
			if tc.fault != nil {
				kms.Inject(*tc.fault)
			}
			fake := newFakeSFN()
			defer fake.Close()
			cl := fake.client(sfnclient.WithEncryption(tc.codec(t), tc.opts...))
			err := tc.call(t)(cl)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			assertNoCanary(t, "error", err.Error())
			var ops []string
			for _, r := range fake.Requests() {
				ops = append(ops, r.Op)
			}
			if diff := cmp.Diff(tc.wantOps, ops); diff != "" {
				t.Errorf("requests sent mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStandardEndpointConfiguration checks that the client option works
// with a client made from the standard AWS configuration, its endpoint set
// by AWS_ENDPOINT_URL_SFN, and that KMS calls go to AWS_ENDPOINT_URL_KMS.
func TestStandardEndpointConfiguration(t *testing.T) {
	kms := kmstest.Start(t)
	fake := newFakeSFN()
	defer fake.Close()
	for _, kv := range kms.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SFN", fake.srv.URL)
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.ParseConfig([]byte(`{"keyrings":{"dev":{"kms":{"keyArn":"` + kms.KeyARN("primary") + `"}}},"rules":` + rules + `}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(ctx, cfg, codec.WithKMSClients(envelope.KMSClients(awsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	cl := sfn.NewFromConfig(awsCfg, sfnclient.WithEncryption(c, sfnclient.WithDecryption()))
	for range 2 {
		started, err := cl.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:eu-west-2:111122223333:stateMachine:orders"), Input: aws.String(document)})
		if err != nil {
			t.Fatal(err)
		}
		desc, err := cl.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(jsonValue(t, document), jsonValue(t, aws.ToString(desc.Output))); diff != "" {
			t.Errorf("DescribeExecution output mismatch (-want +got):\n%s", diff)
		}
	}
	for _, r := range fake.Requests() {
		assertNoCanary(t, r.Op+" request", r.Body)
	}
	// One data key per class, made once and cached; the second
	// DescribeExecution reuses the unwrapped keys.
	got := map[string]int{"GenerateDataKey": kms.Requests("GenerateDataKey"), "Decrypt": kms.Requests("Decrypt")}
	if diff := cmp.Diff(map[string]int{"GenerateDataKey": 2, "Decrypt": 2}, got); diff != "" {
		t.Errorf("KMS requests mismatch (-want +got):\n%s", diff)
	}
}
