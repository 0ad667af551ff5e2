package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

func esdkConfig(t *testing.T, srv *kmstest.Server, ec string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":%s,
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%q]}}},
		"rules":[{"class":"identity","keyring":"main","select":["$..ssn"],"format":"esdk"},
		         {"class":"contact","keyring":"main","select":["$..phone"]}]}`, ec, srv.KeyARN("primary"), srv.KeyARN("breakglass"))))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestESDKMode(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))
	withKMS := WithKMSClients(envelope.KMSClients(ac))
	c, err := New(ctx, esdkConfig(t, srv, `{"app":"esdk-test"}`), withKMS, WithESDK(esdk.Factory(ac)))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"a":{"ssn":"` + canarySSN + `","phone":"` + canaryPhone + `"},"b":{"ssn":12}}`)
	enc, err := c.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "encrypted", string(enc))
	toks := tokenRE.FindAll(enc, -1)
	modes := []format.Mode{}
	for _, tk := range toks {
		tok, err := format.Decode(tk[1:len(tk)-1], nil)
		if err != nil {
			t.Fatal(err)
		}
		modes = append(modes, tok.Mode)
	}
	if want := []format.Mode{format.ModeESDK, format.ModeEnvelope, format.ModeESDK}; fmt.Sprint(modes) != fmt.Sprint(want) {
		t.Errorf("token modes %v, want %v", modes, want)
	}
	dec, err := c.Decrypt(ctx, enc)
	if err != nil || !bytes.Equal(dec, doc) {
		t.Fatalf("round trip: %v\n%s", err, dec)
	}

	t.Run("the raw message decrypts with the ESDK and the key context", func(t *testing.T) {
		tok, err := format.Decode(toks[0][1:len(toks[0])-1], nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := esdk.New(ac, []string{srv.KeyARN("breakglass")})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := s.Decrypt(ctx, tok.Payload, map[string]string{"app": "esdk-test", "sfnenc:class": "identity"})
		if err != nil || string(pt) != `"`+canarySSN+`"` {
			t.Fatalf("raw message: %v", err)
		}
	})
	t.Run("a class without a rule is not decrypted", func(t *testing.T) {
		cfg := esdkConfig(t, srv, `{"app":"esdk-test"}`)
		cfg.Rules = cfg.Rules[1:]
		plain, err := New(ctx, cfg, withKMS)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Decrypt(ctx, enc); !errors.Is(err, ErrUnknownClass) {
			t.Errorf("err = %v, want ErrUnknownClass", err)
		}
		out, failed, err := plain.DecryptPartial(ctx, enc)
		if err != nil || len(failed) != 2 || !bytes.Contains(out, []byte(canaryPhone)) {
			t.Errorf("DecryptPartial: %v, %d failed", err, len(failed))
		}
	})
	t.Run("another encryption context", func(t *testing.T) {
		other, err := New(ctx, esdkConfig(t, srv, `{"app":"other"}`), withKMS, WithESDK(esdk.Factory(ac)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.Decrypt(ctx, []byte(`[`+string(toks[0])+`]`))
		if !errors.Is(err, envelope.ErrInvalidKey) {
			t.Errorf("err = %v, want ErrInvalidKey", err)
		}
	})
	t.Run("class changed", func(t *testing.T) {
		tok, _ := format.Decode(toks[0][1:len(toks[0])-1], nil)
		moved := append(format.AppendESDKHeader(nil, "contact"), tok.Payload...)
		// Class contact reads only native tokens: an ESDK message under
		// its name does not even reach the ESDK.
		_, err := c.Decrypt(ctx, []byte(`["`+string(format.AppendText(nil, moved))+`"]`))
		if !errors.Is(err, envelope.ErrNoKey) {
			t.Errorf("err = %v, want ErrNoKey", err)
		}
	})
	t.Run("altered message", func(t *testing.T) {
		tok, _ := format.Decode(toks[0][1:len(toks[0])-1], nil)
		body := append(bytes.Clone(tok.Header), tok.Payload...)
		body[len(body)-1] ^= 1
		_, err := c.Decrypt(ctx, []byte(`["`+string(format.AppendText(nil, body))+`"]`))
		if !errors.Is(err, ErrAuthentication) {
			t.Errorf("err = %v, want ErrAuthentication", err)
		}
	})
}

func TestESDKConfiguration(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	if _, err := New(ctx, esdkConfig(t, srv, `{}`), WithKMSClients(envelope.KMSClients(srv.Config(t)))); !errors.Is(err, ErrConfig) {
		t.Errorf("esdk rule without WithESDK: %v", err)
	}
	_, err := ParseConfig([]byte(`{"keyrings":{"dev":{"insecureLocalKeyset":"k.json"}},
		"rules":[{"class":"c","keyring":"dev","select":["$.a"],"format":"esdk"}]}`))
	if !errors.Is(err, ErrConfig) {
		t.Errorf("esdk rule on a local keyring: %v", err)
	}
}

// TestNoDowngrade: every format a configuration can name makes
// authenticated, key-committing tokens: the envelope mode with its 32-byte
// commitment, or an ESDK message of format version 2 with suite 0x0478.
func TestNoDowngrade(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	ac := srv.Config(t)
	for _, f := range []string{"", "native", "esdk"} {
		cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"keyrings":{"k":{"kms":{"keyArn":%q}}},
			"rules":[{"class":"c","keyring":"k","select":["$.a"],"format":%q,"pad":8}]}`, srv.KeyARN("primary"), f)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(ac)), WithESDK(esdk.Factory(ac)))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, []byte(`{"a":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		tk := tokenRE.Find(enc)
		tok, err := format.Decode(tk[1:len(tk)-1], nil)
		if err != nil {
			t.Fatal(err)
		}
		switch tok.Mode {
		case format.ModeEnvelope:
			if f == "esdk" || len(tok.Commitment) != format.CommitmentSize {
				t.Errorf("format %q: envelope token with a %d-byte commitment", f, len(tok.Commitment))
			}
		case format.ModeESDK:
			if f != "esdk" || len(tok.Payload) < 3 || tok.Payload[0] != 0x02 || tok.Payload[1] != 0x04 || tok.Payload[2] != 0x78 {
				t.Errorf("format %q: ESDK message version/suite % x", f, tok.Payload[:3])
			}
		default:
			t.Errorf("format %q: mode %d", f, tok.Mode)
		}
	}
	for _, f := range []string{"none", "plaintext", "aes-gcm", "ESDK"} {
		_, err := ParseConfig([]byte(`{"keyrings":{"k":{"insecureLocalKeyset":"k.json"}},"rules":[{"class":"c","keyring":"k","select":["$.a"],"format":"` + f + `"}]}`))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("format %q accepted: %v", f, err)
		}
	}
}
