package codec

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// tamperTarget is one sample token and the codec that reads it.
type tamperTarget struct {
	name string
	c    *Codec
	body []byte // the token's binary body
}

func sampleToken(t *testing.T, name string, c *Codec) tamperTarget {
	t.Helper()
	enc, err := c.Encrypt(context.Background(), []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	tk := tokenRE.Find(enc)
	tok, err := format.Decode(tk[1:len(tk)-1], nil)
	if err != nil {
		t.Fatal(err)
	}
	return tamperTarget{name: name, c: c, body: append(bytes.Clone(tok.Header), tok.Payload...)}
}

// mustFail decrypts a document holding the token body b and fails the test
// if it decrypts, or if the canary shows up anywhere.
func (tt tamperTarget) mustFail(t *testing.T, what string, b []byte) {
	t.Helper()
	doc := []byte(`{"ssn":"` + string(format.AppendText(nil, b)) + `"}`)
	out, err := tt.c.Decrypt(context.Background(), doc)
	if err == nil {
		t.Fatalf("%s: a tampered token decrypted to %q", what, out)
	}
	if out != nil || bytes.Contains([]byte(err.Error()), []byte(canarySSN)) {
		t.Fatalf("%s: output %q, error %v", what, out, err)
	}
}

// TestTampering: every single-byte change, every truncation and every
// extension of sample tokens fails; none yields output.
func TestTampering(t *testing.T) {
	local := sampleToken(t, "local keyring", newLocal(t, twoRules))
	t.Run(local.name, func(t *testing.T) {
		// Every byte, every other value.
		for i := range local.body {
			for x := 1; x < 256; x++ {
				b := bytes.Clone(local.body)
				b[i] ^= byte(x)
				local.mustFail(t, "byte change", b)
			}
		}
		// Every character of the text form, every other base64url character.
		text := format.AppendText(nil, local.body)
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := len(format.Prefix); i < len(text); i++ {
			for _, ch := range []byte(alphabet) {
				if ch == text[i] {
					continue
				}
				b := bytes.Clone(text)
				b[i] = ch
				doc := []byte(`["` + string(b) + `"]`)
				if out, err := local.c.Decrypt(context.Background(), doc); err == nil || out != nil {
					t.Fatalf("text change at %d decrypted", i)
				}
			}
		}
		local.truncateAndExtend(t)
	})

	srv := kmstest.Start(t)
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))
	cfg := localConfig(t, twoRules)
	cfg.Keyrings["dev"] = KeyringConfig{KMS: &KMSKeyringConfig{KeyARN: srv.KeyARN("primary"), BreakGlassKeyARNs: []string{srv.KeyARN("breakglass")}}}
	kc, err := New(context.Background(), cfg, WithKMSClients(envelope.KMSClients(ac)))
	if err != nil {
		t.Fatal(err)
	}
	kms := sampleToken(t, "KMS keyring with a break-glass key", kc)
	t.Run(kms.name, func(t *testing.T) {
		// One change per byte: each header change costs a KMS call.
		for i := range kms.body {
			b := bytes.Clone(kms.body)
			b[i] ^= 0x01
			kms.mustFail(t, "bit flip", b)
		}
		kms.truncateAndExtend(t)
	})
}

func (tt tamperTarget) truncateAndExtend(t *testing.T) {
	for n := 0; n < len(tt.body); n++ {
		tt.mustFail(t, "truncation", tt.body[:n])
	}
	for _, ext := range [][]byte{{0}, {1}, {0xff}, {0, 0}, bytes.Repeat([]byte{0xAA}, 16), bytes.Repeat([]byte{0}, 100)} {
		tt.mustFail(t, "extension", append(bytes.Clone(tt.body), ext...))
	}
}
