package lambdamw_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// signedKMSCodec is a codec of testRules' classes under the local-kms key
// "primary", with the class pii signed.
func signedKMSCodec(t testing.TB, srv *kmstest.Server, signed string) *codec.Codec {
	t.Helper()
	cfg, err := codec.ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":{"app":"lambdamw-test"},
		"keyrings":{"main":{"kms":{"keyArn":%q}}},
		"rules":[{"class":"pii","keyring":"main","select":["$.customer.ssn","$.customer.phone","$..ssn"],"signed":%s},
		         {"class":"card","keyring":"main","select":["$..card"]}]}`, srv.KeyARN("primary"), signed)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(srv.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignedClassReadOnlyPrincipal plays, through the middleware, a
// principal that may decrypt the signed class pii but not write it (KMS
// refuses it GenerateDataKey and Encrypt: fault injection at local-kms,
// which has no key policies, stands in for the key policy). Its forgeries
// fail with sfnenc.DecryptError before the handler runs; a function with
// its rights that only reads returns what it read with no KMS call, and one
// that changes the value fails with sfnenc.EncryptError.
func TestSignedClassReadOnlyPrincipal(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	writer := signedKMSCodec(t, srv, "true")
	event := mustEncrypt(t, writer, customerEvent("echo"))
	unsigned := mustEncrypt(t, func() *codec.Codec { return signedKMSCodec(t, srv, "false") }(), customerEvent("echo"))

	for _, op := range []string{"GenerateDataKey", "Encrypt", "ReEncrypt"} {
		srv.Inject(kmstest.Fault{Op: op, Kind: kmstest.AccessDenied})
	}
	// The principal's materials: a real token and its data key.
	ssnTok := tokenAtPath(t, event, "ssn")
	real, err := format.Decode([]byte(ssnTok), nil)
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.KeyContext(map[string]string{"app": "lambdamw-test"}, "pii")
	out, err := kms.NewFromConfig(srv.Config(t)).Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")),
		CiphertextBlob: real.Keys[0].Ciphertext, EncryptionContext: format.SignedKeyContext(kctx, real.VerifyingKey)})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	forge := func(vk []byte, key ed25519.PrivateKey, sig []byte) string {
		tok, err := forgetest.Seal(forgetest.Token{Class: "pii", Keys: real.Keys, DataKey: out.Plaintext, KeyContext: kctx,
			Signed: true, VerifyingKey: vk, SigningKey: key, Signature: sig}, `"000-00-0000"`)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	realBody := mustBody(t, ssnTok)
	for _, tc := range []struct{ name, tok string }{
		{"resealed under the real header and signature", forge(real.VerifyingKey, nil, real.Signature)},
		{"verifying key swapped for the forger's", forge(pub, priv, nil)},
		{"signature stripped", forge(real.VerifyingKey, nil, nil)},
		{"non-canonical S", string(format.AppendText(nil, append(realBody[:len(realBody)-64:len(realBody)-64], forgetest.NonCanonicalS(real.Signature)...)))},
		{"unsigned token of the class", tokenAtPath(t, unsigned, "ssn")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) {
				ran = true
				return ev, nil
			}, lambdamw.WithCodec(signedKMSCodec(t, srv, "true")))
			res, err := h.Invoke(ctx, []byte(`{"customer":{"ssn":"`+tc.tok+`"}}`))
			if err == nil || ran {
				t.Fatalf("forgery accepted: handler ran %v, result %s", ran, res)
			}
			if got := invokeError(t, err).Type; got != lambdamw.ErrorTypeDecrypt {
				t.Errorf("errorType %s, want %s (%v)", got, lambdamw.ErrorTypeDecrypt, err)
			}
			assertNoCanary(t, "error report", reportText(err))
		})
	}

	t.Run("a function that only reads returns what it read", func(t *testing.T) {
		h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) { return ev, nil },
			lambdamw.WithCodec(signedKMSCodec(t, srv, "true")))
		srv.ResetCounts()
		res, err := h.Invoke(ctx, event)
		if err != nil {
			t.Fatalf("Invoke: %s", reportText(err))
		}
		if tokenAtPath(t, res, "ssn") != ssnTok {
			t.Errorf("the original token did not come back")
		}
		if n := srv.Requests("GenerateDataKey") + srv.Requests("Encrypt"); n != 0 {
			t.Errorf("%d GenerateDataKey or Encrypt requests, want 0", n)
		}
		assertNoCanary(t, "result", string(res))
	})
	t.Run("a function that changes the value needs the writer's rights", func(t *testing.T) {
		h := lambdamw.Wrap(func(_ context.Context, ev struct {
			Customer struct {
				SSN string `json:"ssn"`
			} `json:"customer"`
		}) (any, error) {
			return map[string]any{"customer": map[string]string{"ssn": "checked " + ev.Customer.SSN}}, nil
		}, lambdamw.WithCodec(signedKMSCodec(t, srv, "true")))
		res, err := h.Invoke(ctx, event)
		if err == nil {
			t.Fatalf("a changed value of a signed class left without a writer's rights: %s", res)
		}
		if got := invokeError(t, err).Type; got != lambdamw.ErrorTypeEncrypt {
			t.Errorf("errorType %s, want %s", got, lambdamw.ErrorTypeEncrypt)
		}
		assertNoCanary(t, "error report", reportText(err))
	})
}

func mustBody(t *testing.T, text string) []byte {
	t.Helper()
	var tok format.Token
	b, err := tok.Decode([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tokenAtPath returns the text of the token that is the value of the first
// member called name in doc.
func tokenAtPath(t *testing.T, doc []byte, name string) string {
	t.Helper()
	m := regexp.MustCompile(`"` + name + `":\s*"(sfnenc:[A-Za-z0-9_-]+)"`).FindSubmatch(doc)
	if m == nil {
		t.Fatalf("no token at %q", name)
	}
	return string(m[1])
}

// TestSignedKeysetClassReadOnlyPrincipal is TestSignedClassReadOnlyPrincipal
// in keyset mode: the principal holds the readers' copy of the class's
// keyset (its AEAD keys and verifying keys), not the writers'.
func TestSignedKeysetClassReadOnlyPrincipal(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	ec := map[string]string{"app": "lambdamw-test"}
	st, err := keyset.NewStore(dir, envelope.KMSClients(srv.Config(t)), srv.KeyARN("primary"))
	if err != nil {
		t.Fatal(err)
	}
	st.SetSigned("pii", true)
	if err := st.Create(ctx, "pii", ec); err != nil {
		t.Fatal(err)
	}
	newCodec := func() *codec.Codec {
		cfg, err := codec.ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":{"app":"lambdamw-test"},
			"keyrings":{"ks":{"kmsKeyset":{"keyArn":%q,"dir":%q}}},
			"rules":[{"class":"pii","keyring":"ks","select":["$.customer.ssn"],"signed":true}]}`, srv.KeyARN("primary"), dir)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := codec.New(ctx, cfg, codec.WithKMSClients(envelope.KMSClients(srv.Config(t))))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	event := mustEncrypt(t, newCodec(), `{"customer":{"ssn":"`+canarySSN+`"}}`)
	real, err := format.Decode([]byte(tokenAtPath(t, event, "ssn")), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The principal's materials: the readers' copy.
	ks, err := st.Load(ctx, "pii", ec)
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.AppendContext(nil, format.KeyContext(ec, "pii"))
	_, myPriv, _ := ed25519.GenerateKey(nil)
	forge := func(mode format.Mode, sign func(msg []byte) []byte) string {
		h := format.AppendSignedKeysetHeader(nil, "pii", real.KeyID)
		if mode == format.ModeKeyset {
			h = format.AppendKeysetHeader(nil, "pii", real.KeyID)
		}
		aad := format.AppendAssociatedData(nil, h, kctx, 0, nil)
		sealed, err := ks.Seal(nil, []byte(`"000-00-0000"`), aad)
		if err != nil {
			t.Fatal(err)
		}
		body := append(append([]byte(nil), h...), sealed...)
		if sign != nil {
			body = append(body, sign(format.AppendSigningMessage(nil, aad, sealed))...)
		}
		return string(format.AppendText(nil, body))
	}
	for _, tc := range []struct{ name, tok string }{
		{"resealed with the real signature", forge(format.ModeSignedKeyset, func([]byte) []byte { return real.Signature })},
		{"signed by the forger", forge(format.ModeSignedKeyset, func(m []byte) []byte { return ed25519.Sign(myPriv, m) })},
		{"unsigned", forge(format.ModeKeyset, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) {
				ran = true
				return ev, nil
			}, lambdamw.WithCodec(newCodec()))
			res, err := h.Invoke(ctx, []byte(`{"customer":{"ssn":"`+tc.tok+`"}}`))
			if err == nil || ran {
				t.Fatalf("forgery accepted: handler ran %v, result %s", ran, res)
			}
			if got := invokeError(t, err).Type; got != lambdamw.ErrorTypeDecrypt {
				t.Errorf("errorType %s, want %s (%v)", got, lambdamw.ErrorTypeDecrypt, err)
			}
		})
	}
	// A function that only reads returns what it read: the original token
	// comes back, and it decrypts the readers' copy only, never the
	// writers' (which a key policy on sfnenc:role denies it).
	h := lambdamw.Wrap(func(_ context.Context, ev map[string]any) (any, error) { return ev, nil }, lambdamw.WithCodec(newCodec()))
	srv.ResetCounts()
	res, err := h.Invoke(ctx, event)
	if err != nil || tokenAtPath(t, res, "ssn") != tokenAtPath(t, event, "ssn") {
		t.Fatalf("read-only function: %v", err)
	}
	if n := srv.Requests("Decrypt"); n != 1 {
		t.Errorf("%d KMS Decrypt calls, want 1 (the readers' copy only)", n)
	}
}
