package codec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// contextKMSCodec is a codec whose class identity takes the KMS encryption
// context entry tenant from $.tenantId, signed as signed says.
func contextKMSCodec(t *testing.T, srv *kmstest.Server, signed string) *Codec {
	t.Helper()
	return kmsRulesCodec(t, srv, []string{srv.KeyARN("primary")},
		`[{"class":"identity","keyring":"main","select":["$..ssn"],"context":{"tenant":"$.tenantId"},"signed":`+signed+`}]`)
}

// TestCallContextEnvelope: in envelope mode the entries join the KMS
// encryption context of the data key (one data key per distinct value, so
// a key policy can grant per tenant), a token moved to another tenant's
// document does not unwrap, and a document without the value fails closed
// on both sides, naming the path.
func TestCallContextEnvelope(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	for _, signed := range []string{"false", "true"} {
		t.Run("signed="+signed, func(t *testing.T) {
			srv.ResetCounts()
			c := contextKMSCodec(t, srv, signed)
			docA := `{"tenantId":"tenant-a","ssn":"` + canarySSN + `"}`
			encA := mustEncrypt(t, c, docA)
			mustEncrypt(t, c, `{"tenantId":"tenant-a","ssn":"another"}`)
			encB := mustEncrypt(t, c, `{"tenantId":42,"ssn":"b"}`)
			if n := srv.Requests("GenerateDataKey"); n != 2 {
				t.Errorf("%d GenerateDataKey for two tenants, want 2 (one data key per value)", n)
			}
			reader := contextKMSCodec(t, srv, signed)
			if got, err := reader.Decrypt(ctx, encA); err != nil || string(got) != docA {
				t.Fatalf("Decrypt: %s, %v", got, err)
			}
			if _, err := reader.Decrypt(ctx, encB); err != nil {
				t.Fatalf("Decrypt of a number-valued context: %v", err)
			}
			// The wrapped data key is bound to the tenant at KMS: it
			// unwraps under tenant-a's context and no other.
			tok, err := format.Decode([]byte(firstToken(t, encA)), nil)
			if err != nil {
				t.Fatal(err)
			}
			kctx := format.KeyContext(map[string]string{"app": "kms-test", "tenant": "tenant-a"}, "identity")
			if tok.VerifyingKey != nil {
				kctx = format.SignedKeyContext(kctx, tok.VerifyingKey)
			}
			client := kms.NewFromConfig(srv.Config(t))
			if _, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")), CiphertextBlob: tok.Keys[0].Ciphertext, EncryptionContext: kctx}); err != nil {
				t.Errorf("the data key does not unwrap under the tenant's context: %v", err)
			}
			kctx["tenant"] = "tenant-b"
			if _, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")), CiphertextBlob: tok.Keys[0].Ciphertext, EncryptionContext: kctx}); err == nil {
				t.Error("the data key unwraps under another tenant's context")
			}
			// Moved: unsigned, the data key does not unwrap; signed, the
			// signature over the context fails first, with no KMS call.
			moved := strings.Replace(string(encA), "tenant-a", "tenant-b", 1)
			want := envelope.ErrInvalidKey
			if signed == "true" {
				want = ErrForged
			}
			if _, err := reader.Decrypt(ctx, []byte(moved)); !errors.Is(err, want) {
				t.Errorf("a token moved to another tenant: %v, want %v", err, want)
			}
			missing := strings.Replace(string(encA), `"tenantId":"tenant-a",`, "", 1)
			if _, err := reader.Decrypt(ctx, []byte(missing)); !errors.Is(err, ErrContextValue) || !strings.Contains(err.Error(), "$.tenantId") {
				t.Errorf("a token without its context value: %v, want ErrContextValue naming $.tenantId", err)
			}
			for _, doc := range []string{`{"ssn":"x"}`, `{"tenantId":null,"ssn":"x"}`, `{"tenantId":{"a":1},"ssn":"x"}`, `{"tenantId":["a"],"ssn":"x"}`} {
				if _, err := c.Encrypt(ctx, []byte(doc)); !errors.Is(err, ErrContextValue) || !strings.Contains(err.Error(), "$.tenantId") {
					t.Errorf("Encrypt(%s) = %v, want ErrContextValue naming $.tenantId", doc, err)
				}
			}
			if _, err := c.EncryptValue(ctx, "identity", []byte(`"x"`)); !errors.Is(err, ErrContextValue) {
				t.Errorf("EncryptValue of a class with a per-call context: %v", err)
			}
		})
	}
}

// TestCallContextKeyset: in keyset mode the entries join the associated
// data: a token moved to another tenant fails authentication.
func TestCallContextKeyset(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	f.cfg.Rules[0].Context = map[string]string{"tenant": "$.tenantId"}
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := f.codec(t)
	doc := `{"tenantId":"tenant-a","ssn":"` + canarySSN + `"}`
	enc := mustEncrypt(t, c, doc)
	if got, err := f.codec(t).Decrypt(ctx, enc); err != nil || string(got) != doc {
		t.Fatalf("Decrypt: %s, %v", got, err)
	}
	moved := strings.Replace(string(enc), "tenant-a", "tenant-b", 1)
	if _, err := c.Decrypt(ctx, []byte(moved)); !errors.Is(err, ErrAuthentication) {
		t.Errorf("a token moved to another tenant: %v, want ErrAuthentication", err)
	}
	if _, err := c.Decrypt(ctx, []byte(strings.Replace(string(enc), `"tenantId":"tenant-a",`, "", 1))); !errors.Is(err, ErrContextValue) {
		t.Errorf("a token without its context value: %v, want ErrContextValue", err)
	}
	if f.srv.Requests("Decrypt") != 2 {
		t.Errorf("%d KMS Decrypt calls, want 2 (the keyset, once per codec): the context costs none", f.srv.Requests("Decrypt"))
	}
}

func TestCallContextConfig(t *testing.T) {
	for _, tt := range []struct{ name, rule, want string }{
		{"reserved key", `"context":{"sfnenc:x":"$.a"}`, `rules[0].context: encryption context key "sfnenc:x" uses a reserved prefix`},
		{"aws-crypto key", `"context":{"aws-crypto-public-key":"$.a"}`, `rules[0].context: encryption context key "aws-crypto-public-key" uses a reserved prefix`},
		{"configured key", `"context":{"app":"$.a"}`, `rules[0].context.app: "app" is also a key of encryptionContext`},
		{"not singular", `"context":{"tenant":"$..a"}`, `rules[0].context.tenant: "$..a" is not a singular query`},
		{"empty", `"context":{}`, `rules[0].context: no entries`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := `{"encryptionContext":{"app":"x"},"keyrings":{"k":{"kms":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:key/1"}}},
				"rules":[{"class":"c","keyring":"k","select":["$.s"],` + tt.rule + `}]}`
			if _, err := ParseConfig([]byte(js)); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseConfig error = %v, want %q", err, tt.want)
			}
		})
	}
	// A context value that a rule encrypts would be missing for readers.
	c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.ssn"],"context":{"tenant":"$.tenantId"}},
	                   {"class":"contact","keyring":"dev","select":["$.tenantId"]}]`)
	if _, err := c.Encrypt(context.Background(), []byte(`{"tenantId":"t","ssn":"x"}`)); !errors.Is(err, ErrContextValue) {
		t.Errorf("Encrypt with the context value selected: %v, want ErrContextValue", err)
	}
}

// TestCallContextESDK: in ESDK mode the entries travel in the message's
// encryption context, and readers compare it with the document's.
func TestCallContextESDK(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	ac := srv.Config(t)
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":{"app":"esdk-test"},
		"keyrings":{"main":{"kms":{"keyArn":%q}}},
		"rules":[{"class":"identity","keyring":"main","select":["$..ssn"],"format":"esdk","context":{"tenant":"$.tenantId"}}]}`, srv.KeyARN("primary"))))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(ac)), WithESDK(esdk.Factory(ac)))
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"tenantId":"tenant-a","ssn":"` + canarySSN + `"}`
	enc := mustEncrypt(t, c, doc)
	if got, err := c.Decrypt(ctx, enc); err != nil || string(got) != doc {
		t.Fatalf("Decrypt: %s, %v", got, err)
	}
	if _, err := c.Decrypt(ctx, []byte(strings.Replace(string(enc), "tenant-a", "tenant-b", 1))); err == nil {
		t.Error("a token moved to another tenant opened")
	}
}
