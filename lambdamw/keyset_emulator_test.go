package lambdamw_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/internal/testbin"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// TestKeysetUnderEmulator runs the test handler under the Lambda Runtime
// Interface Emulator with a keyset-mode configuration: the function makes
// one KMS Decrypt per class it uses, at its first use, and none after,
// whoever wrote the event.
func TestKeysetUnderEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a Lambda function under the emulator")
	}
	rie := testbin.Path(t, "aws-lambda-rie")
	bin := testbin.Build(t, "lambdamw/internal/testhandler", "lambda.norpc")
	kms := kmstest.Start(t) // the operator's and the writers'
	dir := t.TempDir()
	cfgJSON := `{"encryptionContext":{"app":"lambdamw-it"},"keyrings":{"dev":{"kmsKeyset":{"keyArn":"` +
		kms.KeyARN("primary") + `","dir":"` + dir + `"}}},"rules":` + testRules + `}`
	cfg, err := codec.ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	st, err := keyset.NewStore(dir, envelope.KMSClients(kms.Config(t)), kms.KeyARN("primary"))
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range cfg.Classes() {
		if err := st.Create(context.Background(), class, cfg.EncryptionContext); err != nil {
			t.Fatal(err)
		}
	}
	writer := func() *codec.Codec {
		c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(kms.Config(t))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	writerA, writerB := writer(), writer()
	// The function's own local-kms, seeded with the same keys, so that its
	// requests are counted apart.
	fnKMS := kmstest.Start(t)
	f := startEmulated(t, rie, bin, append(fnKMS.Env(), lambdamw.EnvConfig+"="+cfgJSON, "AWS_LAMBDA_FUNCTION_TIMEOUT=30", lambdamw.EnvErrorClass+"=diag")...)
	want := jsonValue(t, []byte(`{"greeting":"hello Ann","customer":{"name":"Ann","ssn":"`+canarySSN+`","phone":"`+canaryPhone+`"},"card":{"pan":"`+canaryCard+`","exp":"12/29"}}`))
	steps := []struct {
		name    string
		event   []byte
		wantKMS map[string]int
		errType string
	}{
		// Cold: the keysets of pii and card, for reading the event and
		// writing the result.
		{"cold", mustEncrypt(t, writerA, customerEvent("echo")), map[string]int{"GenerateDataKey": 0, "Decrypt": 2, "all": 2}, ""},
		{"warm, another writer", mustEncrypt(t, writerB, customerEvent("echo")), map[string]int{"GenerateDataKey": 0, "Decrypt": 0, "all": 0}, ""},
		{"handler error: the diag keyset", mustEncrypt(t, writerB, customerEvent("fail")), map[string]int{"GenerateDataKey": 0, "Decrypt": 1, "all": 1}, "PaymentDeclined"},
		{"handler error again", mustEncrypt(t, writerA, customerEvent("fail")), map[string]int{"GenerateDataKey": 0, "Decrypt": 0, "all": 0}, "PaymentDeclined"},
		{"warm", mustEncrypt(t, writer(), customerEvent("echo")), map[string]int{"GenerateDataKey": 0, "Decrypt": 0, "all": 0}, ""},
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
		pii := tokensOf(t, r.body, "pii")
		if len(pii) == 0 {
			t.Errorf("%s: no pii tokens found", s.name)
		}
		for tok := range pii {
			if body, err := format.Decode([]byte(tok), nil); err != nil || body.Mode != format.ModeKeyset {
				t.Errorf("%s: result token is not of keyset mode (%v)", s.name, err)
			}
		}
		if diff := cmp.Diff(want, jsonValue(t, mustDecrypt(t, writerA, r.body))); diff != "" {
			t.Errorf("%s: decrypted result mismatch (-want +got):\n%s", s.name, diff)
		}
	}
}
