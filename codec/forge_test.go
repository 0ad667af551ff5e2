package codec

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// forgeToken seals value under a data key of the forger's choosing, with
// the subkeys SECURITY.md specifies, behind the given wrapped keys.
func forgeToken(t *testing.T, class string, keys []format.WrappedKey, dataKey []byte, kctx map[string]string, value string) string {
	t.Helper()
	tok, err := forgetest.Seal(forgetest.Token{Class: class, Keys: keys, DataKey: dataKey, KeyContext: kctx}, value)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBreakGlassCannotForge plays a holder of kms:Encrypt on the break-glass
// key (and of nothing on the primary key): they take a real token, corrupt
// its primary wrapped key, wrap a data key of their own under the
// break-glass key and seal a value of their choosing. A reader that can use
// both keys must refuse it, not fall back to the break-glass key.
func TestBreakGlassCannotForge(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary, bg := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	writer := kmsCodec(t, srv, []string{primary, bg})
	enc, err := writer.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	text := tokenRE.FindString(string(enc))
	real, err := format.Decode([]byte(text[1:len(text)-1]), nil)
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.KeyContext(map[string]string{"app": "kms-test"}, "identity")

	mine := make([]byte, 32)
	rand.Read(mine)
	out, err := kms.NewFromConfig(srv.Config(t)).Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String(bg), Plaintext: mine, EncryptionContext: kctx,
	})
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), real.Keys[0].Ciphertext...)
	corrupt[len(corrupt)-1] ^= 1 // in the blob's authentication tag
	keys := []format.WrappedKey{
		{Provider: format.ProviderAWSKMS, KeyID: primary, Ciphertext: corrupt},
		{Provider: format.ProviderAWSKMS, KeyID: bg, Ciphertext: out.CiphertextBlob},
	}
	forged := forgeToken(t, "identity", keys, mine, kctx, `"forged"`)

	reader := kmsCodec(t, srv, []string{primary, bg})
	_, err = reader.Decrypt(ctx, []byte(`{"ssn":"`+forged+`"}`))
	if err == nil {
		t.Fatal("a reader with both keys accepted a forged token")
	}
	if !errors.Is(err, envelope.ErrInvalidKey) {
		t.Errorf("refused with %v, want the primary key's ErrInvalidKey", err)
	}
	// The same forgery with the primary wrapped key left out: a reader
	// configured with both keys refuses it too (it never reads through a
	// break-glass key), and only the break-glass procedure's reader,
	// configured without the primary key, opens it. SECURITY.md says so;
	// the key policy must condition kms:Encrypt on the break-glass key.
	onlyBG := forgeToken(t, "identity", keys[1:], mine, kctx, `"forged"`)
	srv.ResetCounts()
	if dec, err := reader.Decrypt(ctx, []byte(`{"ssn":"`+onlyBG+`"}`)); err == nil {
		t.Errorf("a reader with both keys accepted a token that carries only a break-glass wrapped key: %s", dec)
	} else if !errors.Is(err, envelope.ErrNoPrimaryKey) {
		t.Errorf("omitted primary wrapped key refused with %v, want ErrNoPrimaryKey", err)
	}
	if n := srv.Requests("Decrypt"); n != 0 {
		t.Errorf("omitted primary wrapped key: %d KMS Decrypt requests, want 0", n)
	}
	bgReader := kmsCodec(t, srv, []string{bg})
	if dec, err := bgReader.Decrypt(ctx, []byte(`{"ssn":"`+onlyBG+`"}`)); err != nil || string(dec) != `{"ssn":"forged"}` {
		t.Errorf("the break-glass procedure changed: %s, %v", dec, err)
	}
	// A genuine token while the primary key is disabled: the reader with
	// both keys fails rather than fall back; the break-glass reader opens it.
	if _, err := kms.NewFromConfig(srv.Config(t)).DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(primary)}); err != nil {
		t.Fatal(err)
	}
	if dec, err := kmsCodec(t, srv, []string{primary, bg}).Decrypt(ctx, enc); err == nil {
		t.Errorf("primary key disabled: the reader fell back to the break-glass key: %s", dec)
	} else if !errors.Is(err, envelope.ErrDenied) {
		t.Errorf("primary key disabled: %v, want ErrDenied", err)
	}
	if dec, err := bgReader.Decrypt(ctx, enc); err != nil || string(dec) != `{"ssn":"`+canarySSN+`"}` {
		t.Errorf("break-glass reader while the primary key is disabled: %v", err)
	}
	if _, err := kms.NewFromConfig(srv.Config(t)).EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(primary)}); err != nil {
		t.Fatal(err)
	}
	// And the forger's work is no good for the primary-key reader either.
	if _, err := kmsCodec(t, srv, []string{primary}).Decrypt(ctx, []byte(`{"ssn":"`+forged+`"}`)); err == nil {
		t.Error("the primary-key reader accepted the forged token")
	}
}

// TestForgeBound checks the forger's own tool, which the tests of signed
// and bound classes rely on: a token sealed by forgetest under a data key
// unwrapped from a genuine token, bound to the same business key, opens
// for an unsigned class, and not in a document with another key. (A
// signed class refuses it for its signature; that is what those tests
// show, so the forgery must be right in everything else.)
func TestForgeBound(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary := srv.KeyARN("primary")
	c := kmsRulesCodec(t, srv, []string{primary}, `[{"class":"identity","keyring":"main","select":["$..ssn"],"bind":"$.appId"}]`)
	enc, err := c.Encrypt(ctx, []byte(`{"appId":"APP-1","ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	real, err := format.Decode([]byte(firstToken(t, enc)), nil)
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.KeyContext(map[string]string{"app": "kms-test"}, "identity")
	out, err := kms.NewFromConfig(srv.Config(t)).Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(primary), CiphertextBlob: real.Keys[0].Ciphertext, EncryptionContext: kctx})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forgetest.Seal(forgetest.Token{Class: "identity", Keys: real.Keys, DataKey: out.Plaintext, KeyContext: kctx, Binding: "APP-1"}, `"forged"`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(ctx, []byte(`{"appId":"APP-1","ssn":"`+forged+`"}`)); err != nil || string(got) != `{"appId":"APP-1","ssn":"forged"}` {
		t.Fatalf("the forged bound token: %s, %v; want it to open in its application", got, err)
	}
	if _, err := c.Decrypt(ctx, []byte(`{"appId":"APP-2","ssn":"`+forged+`"}`)); !errors.Is(err, ErrAuthentication) {
		t.Errorf("the forged bound token in another application: %v, want ErrAuthentication", err)
	}
}
