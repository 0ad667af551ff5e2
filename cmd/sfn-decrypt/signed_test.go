package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// TestDecryptSignedForgery plays an operator who may read the signed class
// identity (kms:Decrypt) but not write it (KMS refuses GenerateDataKey and
// Encrypt: fault injection at local-kms, which has no key policies, stands
// in for the key policy). sfn-decrypt decrypts genuine tokens for them,
// refuses every token they forge with the data key they unwrapped (exit 3,
// the reason on stderr), and cannot encrypt a value of the class for them.
func TestDecryptSignedForgery(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	cfgJSON := `{"encryptionContext": {"app": "orders"},
		"keyrings": {"kms": {"kms": {"keyArn": "` + srv.KeyARN("primary") + `"}}},
		"rules": [{"class": "identity", "keyring": "kms", "select": ["$..ssn"], "signed": true}]}`
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(cfgJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := codec.ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := codec.New(ctx, cfg, codec.WithKMSClients(envelope.KMSClients(srv.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := writer.Encrypt(ctx, []byte(`{"ssn":"078-05-1120"}`))
	if err != nil {
		t.Fatal(err)
	}
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+srv.Endpoint())
	for _, op := range []string{"GenerateDataKey", "Encrypt", "ReEncrypt"} {
		srv.Inject(kmstest.Fault{Op: op, Kind: kmstest.AccessDenied})
	}

	out, stderr, code := runCmd(t, string(genuine), "decrypt", "--config", cfgPath)
	if code != exitOK || strings.TrimSpace(out) != `{"ssn":"078-05-1120"}` {
		t.Fatalf("genuine token: exit %d, %s\n%s", code, out, stderr)
	}

	text := regexp.MustCompile(`sfnenc:[A-Za-z0-9_-]+`).FindString(string(genuine))
	real, err := format.Decode([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.KeyContext(map[string]string{"app": "orders"}, "identity")
	dk, err := kms.NewFromConfig(srv.Config(t)).Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")),
		CiphertextBlob: real.Keys[0].Ciphertext, EncryptionContext: format.SignedKeyContext(kctx, real.VerifyingKey)})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forgetest.Seal(forgetest.Token{Class: "identity", Keys: real.Keys, DataKey: dk.Plaintext, KeyContext: kctx,
		Signed: true, VerifyingKey: real.VerifyingKey, Signature: real.Signature}, `"000-00-0000"`)
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runCmd(t, `{"ssn":"`+forged+`"}`, "decrypt", "--config", cfgPath)
	if code != exitTokens {
		t.Fatalf("forged token: exit %d, want %d; output %s", code, exitTokens, out)
	}
	if strings.Contains(out, "000-00-0000") || !strings.Contains(stderr, "forged") {
		t.Errorf("forged token: output %q, stderr %q", out, stderr)
	}
	assertNoCanary(t, "stderr", stderr)

	out, stderr, code = runCmd(t, `{"ssn":"000-00-0000"}`, "encrypt", "--config", cfgPath)
	if code == exitOK || strings.Contains(out, "sfnenc:") {
		t.Fatalf("a read-only operator encrypted a value of a signed class: exit %d, %s", code, out)
	}
	if !strings.Contains(stderr, "access denied") {
		t.Errorf("encrypt without write rights: stderr %q", stderr)
	}
}

// TestKeysetSignedRollout turns signing on for a keyset-mode class through
// the CLI, in the two steps SECURITY.md gives: "signed": "staged" and
// `keyset rotate --staged` (the file gets signing keys, writers sign,
// readers read old and new tokens), then "signed": true (old unsigned
// tokens are refused, exit 3).
func TestKeysetSignedRollout(t *testing.T) {
	kms := kmstest.Start(t)
	awsTestEnv(t, "AWS_ENDPOINT_URL_KMS="+kms.Endpoint())
	dir := t.TempDir()
	cfg := keysetConfig(t, kms, dir)
	setSigned := func(v string) {
		b := readFile(t, cfg)
		b = regexp.MustCompile(`("select": \["\$\.\.ssn"\])(, "signed": [^}]*)?`).ReplaceAll(b, []byte(`$1, "signed": `+v))
		if err := os.WriteFile(cfg, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modeOf := func(doc string) format.Mode {
		tok, err := format.Decode([]byte(regexp.MustCompile(`sfnenc:[A-Za-z0-9_-]+`).FindString(doc)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Mode
	}
	doc := `{"ssn":"078-05-1120"}`
	if _, errs, code := runCmd(t, "", "keyset", "create", "--config", cfg, "--class", "identity"); code != 0 {
		t.Fatalf("keyset create: %s", errs)
	}
	old, errs, code := runCmd(t, doc, "encrypt", "--config", cfg)
	if code != 0 || modeOf(old) != format.ModeKeyset {
		t.Fatalf("encrypt before signing: exit %d, %s", code, errs)
	}

	setSigned(`"staged"`)
	if _, errs, code := runCmd(t, "", "keyset", "rotate", "--staged", "--config", cfg, "--class", "identity"); code != 0 {
		t.Fatalf("keyset rotate --staged: %s", errs)
	}
	var fl struct{ WriterKeysets []json.RawMessage }
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "keysets", "identity.json")), &fl); err != nil || len(fl.WriterKeysets) != 2 {
		t.Fatalf("the staged file has %d writers' copies, want 2 (%v)", len(fl.WriterKeysets), err)
	}
	signed, errs, code := runCmd(t, doc, "encrypt", "--config", cfg)
	if code != 0 || modeOf(signed) != format.ModeSignedKeyset {
		t.Fatalf("encrypt, staged: exit %d, %s", code, errs)
	}
	for _, in := range []string{old, signed} {
		if out, errs, code := runCmd(t, in, "decrypt", "--config", cfg); code != 0 || strings.TrimSpace(out) != doc {
			t.Errorf("decrypt, staged: exit %d, %s", code, errs)
		}
	}

	setSigned("true")
	if out, errs, code := runCmd(t, signed, "decrypt", "--config", cfg); code != 0 || strings.TrimSpace(out) != doc {
		t.Errorf("decrypt a signed token, required: exit %d, %s", code, errs)
	}
	out, errs, code := runCmd(t, old, "decrypt", "--config", cfg)
	if code != exitTokens || !strings.Contains(errs, "not signed") || strings.Contains(out, "078-05-1120") {
		t.Errorf("decrypt an unsigned token, required: exit %d, %s", code, errs)
	}
}
