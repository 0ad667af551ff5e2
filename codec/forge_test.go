package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// forgeToken seals value under a data key of the forger's choosing, with
// the subkeys SECURITY.md specifies, behind the given wrapped keys.
func forgeToken(t *testing.T, class string, keys []format.WrappedKey, dataKey []byte, kctx map[string]string, value string) string {
	t.Helper()
	prk, err := hkdf.Extract(sha256.New, dataKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := hkdf.Expand(sha256.New, prk, "sfnenc v1 envelope aes-256-gcm key", 32)
	commit, _ := hkdf.Expand(sha256.New, prk, "sfnenc v1 envelope key commitment", format.CommitmentSize)
	block, _ := aes.NewCipher(ek)
	gcm, _ := cipher.NewGCM(block)
	header := format.AppendHeader(nil, class, keys, commit)
	aad := format.AppendAssociatedData(nil, header, format.AppendContext(nil, kctx), 0, nil)
	nonce := make([]byte, format.NonceSize)
	rand.Read(nonce)
	body := gcm.Seal(append(append([]byte(nil), header...), nonce...), nonce, []byte(value), aad)
	return string(format.AppendText(nil, body))
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
	// The same forgery with the primary wrapped key left out is what a
	// break-glass encrypter can always make: a reader that can use only
	// the break-glass key accepts it. SECURITY.md says so; the key
	// policy must condition kms:Encrypt on the break-glass key.
	onlyBG := forgeToken(t, "identity", keys[1:], mine, kctx, `"forged"`)
	bgReader := kmsCodec(t, srv, []string{bg})
	if dec, err := bgReader.Decrypt(ctx, []byte(`{"ssn":"`+onlyBG+`"}`)); err != nil || string(dec) != `{"ssn":"forged"}` {
		t.Errorf("the documented limit changed: %s, %v", dec, err)
	}
	// And the forger's work is no good for the primary-key reader either.
	if _, err := kmsCodec(t, srv, []string{primary}).Decrypt(ctx, []byte(`{"ssn":"`+forged+`"}`)); err == nil {
		t.Error("the primary-key reader accepted the forged token")
	}
}
