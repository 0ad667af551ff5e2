package codec

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// signedKMSCodec is kmsCodec with the identity class signed as signing says.
func signedKMSCodec(t testing.TB, srv *kmstest.Server, signing string, keys ...string) *Codec {
	t.Helper()
	return kmsRulesCodec(t, srv, keys, `[{"class":"identity","keyring":"main","select":["$..ssn"],"signed":`+signing+`},
		{"class":"contact","keyring":"main","select":["$..phone"]}]`)
}

// forger holds what a principal that may only read a signed class can
// have: a real token of the class and the data key it unwrapped from it
// with its own kms:Decrypt.
type forger struct {
	tok     *format.Token
	dataKey []byte
	kctx    map[string]string // the key context (without the verifying key)
}

// seal makes a mode 0x04 token body of value under the forger's data key,
// with the header's verifying key replaced by vk (nil: the real one),
// signed by priv (nil: the signature sig is appended as it is).
func (f *forger) seal(t *testing.T, value string, vk []byte, priv ed25519.PrivateKey, sig []byte) []byte {
	t.Helper()
	if vk == nil {
		vk = f.tok.VerifyingKey
	}
	body, err := forgetest.SealBody(forgetest.Token{Class: f.tok.Class, Keys: f.tok.Keys, DataKey: f.dataKey, KeyContext: f.kctx,
		Signed: true, VerifyingKey: vk, SigningKey: priv, Signature: sig}, value)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func text(body []byte) string { return string(format.AppendText(nil, body)) }

// firstToken returns the text of the first token in doc, without quotes.
func firstToken(t *testing.T, doc []byte) string {
	t.Helper()
	m := tokenRE.Find(doc)
	if m == nil {
		t.Fatalf("no token in %s", doc)
	}
	return string(m[1 : len(m)-1])
}

// TestReadOnlyPrincipalCannotForge plays a principal that may decrypt the
// signed class identity (kms:Decrypt on the primary key under its
// context) but not write it: KMS refuses it GenerateDataKey and Encrypt
// (fault injection at local-kms, which has no key policies, stands in
// for the key policy). With a real token and the data key it unwraps from
// it, every token it makes is refused by a reader of the class.
func TestReadOnlyPrincipalCannotForge(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary, bg := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	writer := signedKMSCodec(t, srv, "true", primary, bg)
	enc, err := writer.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	other, err := signedKMSCodec(t, srv, "true", primary, bg).Encrypt(ctx, []byte(`{"ssn":"another data key"}`))
	if err != nil {
		t.Fatal(err)
	}
	unsignedDoc, err := kmsCodec(t, srv, []string{primary, bg}).Encrypt(ctx, []byte(`{"ssn":"an old unsigned token"}`))
	if err != nil {
		t.Fatal(err)
	}

	// From here on, the principal of this test may only decrypt.
	for _, op := range []string{"GenerateDataKey", "Encrypt", "ReEncrypt", "GenerateDataKeyWithoutPlaintext"} {
		srv.Inject(kmstest.Fault{Op: op, Kind: kmstest.AccessDenied})
	}
	readOnly := signedKMSCodec(t, srv, "true", primary, bg)
	if got, err := readOnly.Decrypt(ctx, enc); err != nil || string(got) != `{"ssn":"`+canarySSN+`"}` {
		t.Fatalf("the read-only principal cannot read: %s, %v", got, err)
	}
	if _, err := readOnly.Encrypt(ctx, []byte(`{"ssn":"forged"}`)); !errors.Is(err, envelope.ErrDenied) {
		t.Fatalf("the read-only principal's Encrypt = %v, want ErrDenied", err)
	}

	realText := firstToken(t, enc)
	real, err := format.Decode([]byte(realText), nil)
	if err != nil {
		t.Fatal(err)
	}
	if real.Mode != format.ModeSignedEnvelope {
		t.Fatalf("mode %#x, want 0x04", real.Mode)
	}
	kctx := format.KeyContext(map[string]string{"app": "kms-test"}, "identity")
	out, err := kms.NewFromConfig(srv.Config(t)).Decrypt(ctx, &kms.DecryptInput{
		KeyId: aws.String(primary), CiphertextBlob: real.Keys[0].Ciphertext,
		EncryptionContext: format.SignedKeyContext(kctx, real.VerifyingKey),
	})
	if err != nil {
		t.Fatalf("the read-only principal cannot unwrap the data key: %v", err)
	}
	f := &forger{tok: real, dataKey: out.Plaintext, kctx: kctx}
	myPub, myPriv, _ := ed25519.GenerateKey(nil)
	otherTok, err := format.Decode([]byte(firstToken(t, other)), nil)
	if err != nil {
		t.Fatal(err)
	}
	realBody, _ := base64Body(realText)

	attacks := []struct {
		name string
		tok  string
		want []error // the error must wrap one of these
	}{
		{"reseal under the real header, keep the real signature",
			text(f.seal(t, `"forged"`, nil, nil, real.Signature)), []error{ErrForged}},
		{"reseal and sign with a key of the forger's, real verifying key",
			text(f.seal(t, `"forged"`, nil, myPriv, nil)), []error{ErrForged}},
		{"swap the verifying key for the forger's and sign",
			text(f.seal(t, `"forged"`, myPub, myPriv, nil)), []error{ErrForged}},
		{"strip the signature",
			text(f.seal(t, `"forged"`, nil, nil, nil)), []error{ErrForged, ErrMalformedToken}},
		{"signature one byte short",
			text(f.seal(t, `"forged"`, nil, nil, real.Signature[:63])), []error{ErrForged, ErrMalformedToken}},
		{"signature one byte long",
			text(f.seal(t, `"forged"`, nil, nil, append(append([]byte(nil), real.Signature...), 0))), []error{ErrForged, ErrMalformedToken}},
		{"real token, signature with a non-canonical S",
			text(append(realBody[:len(realBody)-64:len(realBody)-64], forgetest.NonCanonicalS(real.Signature)...)), []error{ErrForged}},
		{"real token, signature of another data key's token",
			text(append(realBody[:len(realBody)-64:len(realBody)-64], otherTok.Signature...)), []error{ErrForged}},
		{"real token, mode byte set to unsigned",
			text(append([]byte{realBody[0], byte(format.ModeEnvelope)}, realBody[2:]...)), []error{ErrUnsigned, ErrMalformedToken, ErrAuthentication}},
		{"an unsigned token of the class", firstToken(t, unsignedDoc), []error{ErrUnsigned}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			doc := []byte(`{"ssn":"` + a.tok + `"}`)
			for name, reader := range map[string]*Codec{"writer": writer, "read-only": readOnly, "fresh": signedKMSCodec(t, srv, "true", primary, bg)} {
				got, err := reader.Decrypt(ctx, doc)
				if err == nil {
					t.Fatalf("%s reader accepted the forgery: %s", name, got)
				}
				ok := false
				for _, w := range a.want {
					ok = ok || errors.Is(err, w)
				}
				if !ok {
					t.Errorf("%s reader: %v, want one of %v", name, err, a.want)
				}
				var te *TokenError
				if !errors.As(err, &te) || te.Pointer != "/ssn" {
					t.Errorf("%s reader: %v, want a TokenError at /ssn", name, err)
				}
				assertNoCanary(t, "error", err.Error())
			}
		})
	}
	// The signature is checked before any KMS call: a forgery costs the
	// reader no Decrypt (and leaves no refusal to remember).
	srv.ResetCounts()
	if _, err := signedKMSCodec(t, srv, "true", primary, bg).Decrypt(ctx, []byte(`{"ssn":"`+attacks[0].tok+`"}`)); !errors.Is(err, ErrForged) {
		t.Fatalf("forgery: %v", err)
	}
	if n := srv.Requests("Decrypt"); n != 0 {
		t.Errorf("a forged token cost %d KMS Decrypt calls, want 0", n)
	}
	// The sanity check of the forger's tools: signed by the real key (which
	// only the writer holds) the same construction is accepted.
	if got, err := readOnly.Decrypt(ctx, enc); err != nil || !strings.Contains(string(got), canarySSN) {
		t.Fatalf("the genuine token no longer opens: %v", err)
	}
}

func base64Body(text string) ([]byte, error) {
	var tok format.Token
	b, err := tok.Decode([]byte(text), nil)
	return b, err
}

// TestSignedForgerToolsWork holds the forger of TestReadOnlyPrincipalCannotForge
// to the format: with the writer's own signing key (which the test takes
// from a signed data key it makes itself, as only a writer can) its tokens
// are accepted, so the refusals there come from the missing key, not from
// a broken construction.
func TestSignedForgerToolsWork(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary := srv.KeyARN("primary")
	kctx := format.KeyContext(map[string]string{"app": "kms-test"}, "identity")
	pub, priv, _ := ed25519.GenerateKey(nil)
	client := kms.NewFromConfig(srv.Config(t))
	// A writer: GenerateDataKey under the context with its verifying key.
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(primary), KeySpec: "AES_256", EncryptionContext: format.SignedKeyContext(kctx, pub),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := &format.Token{Class: "identity", VerifyingKey: pub,
		Keys: []format.WrappedKey{{Provider: format.ProviderAWSKMS, KeyID: primary, Ciphertext: gen.CiphertextBlob}}}
	f := &forger{tok: tok, dataKey: gen.Plaintext, kctx: kctx}
	made := text(f.seal(t, `"written"`, nil, priv, nil))
	got, err := signedKMSCodec(t, srv, "true", primary).Decrypt(ctx, []byte(`{"ssn":"`+made+`"}`))
	if err != nil || string(got) != `{"ssn":"written"}` {
		t.Fatalf("a writer's token: %s, %v", got, err)
	}
}

// TestSignedStaged checks the two steps of turning signing on: staged
// readers accept unsigned and signed tokens and staged writers sign; then
// required readers refuse unsigned ones. Encrypt refuses to pass an
// unsigned token on as a required class's.
func TestSignedStaged(t *testing.T) {
	ctx := context.Background()
	rules := func(signed string) string {
		return `[{"class":"identity","keyring":"dev","select":["$.ssn"],"signed":` + signed + `}]`
	}
	off, staged, required := newLocal(t, rules("false")), newLocal(t, rules(`"staged"`)), newLocal(t, rules("true"))
	doc := []byte(`{"ssn":"` + canarySSN + `"}`)
	unsigned, err := off.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := staged.Encrypt(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := format.Decode([]byte(firstToken(t, signed)), nil); tok == nil || tok.Mode != format.ModeSignedEnvelope {
		t.Fatalf("a staged writer did not sign: %s", signed)
	}
	for _, tt := range []struct {
		name   string
		reader *Codec
		doc    []byte
		want   error // nil: opens
	}{
		{"staged reads unsigned", staged, unsigned, nil},
		{"staged reads signed", staged, signed, nil},
		{"required reads signed", required, signed, nil},
		{"required refuses unsigned", required, unsigned, ErrUnsigned},
		{"unsigned reader does not read signed", off, signed, envelope.ErrNoKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.reader.Decrypt(ctx, tt.doc)
			if tt.want == nil {
				if err != nil || string(got) != string(doc) {
					t.Fatalf("Decrypt = %s, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := required.Encrypt(ctx, unsigned); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Encrypt passed an unsigned token on as a signed class's: %v", err)
	}
	if out, err := staged.Encrypt(ctx, unsigned); err != nil || string(out) != string(unsigned) {
		t.Errorf("a staged writer did not pass an unsigned token on: %v", err)
	}
}

func TestSignedConfig(t *testing.T) {
	for _, tt := range []struct {
		name, rule, want string
	}{
		{"number", `"signed":1`, `rules[0].signed: want true, false or "staged", not 1`},
		{"other string", `"signed":"yes"`, `rules[0].signed: want true, false or "staged", not "yes"`},
		{"esdk", `"signed":true,"format":"esdk"`, `rules[0].format: a signed class cannot use format "esdk"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := `{"keyrings":{"k":{"kms":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:key/1"}}},
				"rules":[{"class":"c","keyring":"k","select":["$.a"],` + tt.rule + `}]}`
			_, err := ParseConfig([]byte(js))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseConfig error = %v, want %q", err, tt.want)
			}
		})
	}
	for _, v := range []string{"true", "false", `"staged"`} {
		js := `{"keyrings":{"k":{"kms":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:key/1"}}},
			"rules":[{"class":"c","keyring":"k","select":["$.a"],"signed":` + v + `}]}`
		if _, err := ParseConfig([]byte(js)); err != nil {
			t.Errorf("signed %s: %v", v, err)
		}
	}
}

// TestSignedTokenSize: a signed token is 96 bytes (128 characters) longer
// than an unsigned one of the same class and value.
func TestSignedTokenSize(t *testing.T) {
	ctx := context.Background()
	value := []byte(`"` + strings.Repeat("x", 18) + `"`) // 20 bytes
	var lens [2]int
	for i, signed := range []string{"false", "true"} {
		c := newLocal(t, `[{"class":"identity","keyring":"dev","select":["$.ssn"],"signed":`+signed+`}]`)
		tok, err := c.EncryptValue(ctx, "identity", value)
		if err != nil {
			t.Fatal(err)
		}
		lens[i] = len(tok)
	}
	if d := lens[1] - lens[0]; d != 128 {
		t.Errorf("a signed token is %d characters longer, want 128 (%d and %d)", d, lens[0], lens[1])
	}
}

// TestSignedKeysetReadOnlyPrincipal plays, in keyset mode, a principal that
// may decrypt the readers' copy of the signed class identity's keyset file
// but not the writers' (a key policy on sfnenc:role; here KMS refuses it
// every Decrypt once it has loaded its copy: fault injection at local-kms,
// which has no key policies). With the class's AEAD keys and verifying
// keys, and a real token, every token it makes is refused.
func TestSignedKeysetReadOnlyPrincipal(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	f.cfg.Rules[0].Signed = SignedRequired
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f.store.SetSigned("identity", true)
	if _, err := f.store.Stage(ctx, "identity", f.cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Rotate(ctx, "identity", f.cfg.EncryptionContext); err != nil {
		t.Fatal(err)
	}
	writer := f.codec(t)
	enc, err := writer.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	realText := firstToken(t, enc)
	real, err := format.Decode([]byte(realText), nil)
	if err != nil || real.Mode != format.ModeSignedKeyset {
		t.Fatalf("token %v, mode %v; want mode 0x05", err, real)
	}
	value := `"0123456789abcdefgh"` // 20 bytes of JSON
	signedTok := firstToken(t, mustEncrypt(t, writer, `{"ssn":`+value+`}`))
	unsignedTok := firstToken(t, mustEncrypt(t, newKeysetFixture(t).codec(t), `{"ssn":`+value+`}`))
	if d := len(signedTok) - len(unsignedTok); d > 90 || len(signedTok) != format.TextLen(3+len("identity")+2+format.KeysetOverhead+len(value)+format.SignatureSize) {
		t.Errorf("a signed keyset token of a 20-byte value is %d characters (%d more than unsigned), want %d and at most 90 more",
			len(signedTok), d, format.TextLen(3+len("identity")+2+format.KeysetOverhead+len(value)+format.SignatureSize))
	}
	t.Logf("keyset mode: 20-byte value -> %d-character signed token, %d unsigned (+%d)", len(signedTok), len(unsignedTok), len(signedTok)-len(unsignedTok))

	reader := f.codec(t)
	if got, err := reader.Decrypt(ctx, enc); err != nil || !strings.Contains(string(got), canarySSN) {
		t.Fatalf("the reader cannot read: %v", err)
	}
	// The principal's materials: the readers' copy, loaded as any reader.
	mine, err := keyset.NewStore(f.dir, envelope.KMSClients(f.srv.Config(t)), f.srv.KeyARN("primary"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := mine.Load(ctx, "identity", f.cfg.EncryptionContext)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied})
	if _, err := reader.Encrypt(ctx, []byte(`{"ssn":"forged"}`)); !errors.Is(err, envelope.ErrDenied) {
		t.Fatalf("the reader's Encrypt = %v, want ErrDenied (the writers' copy)", err)
	}
	kctx := format.AppendContext(nil, format.KeyContext(f.cfg.EncryptionContext, "identity"))
	_, myPriv, _ := ed25519.GenerateKey(nil)
	forge := func(mode format.Mode, value string, sig func(msg []byte) []byte) string {
		h := format.AppendSignedKeysetHeader(nil, "identity", real.KeyID)
		if mode == format.ModeKeyset {
			h = format.AppendKeysetHeader(nil, "identity", real.KeyID)
		}
		aad := format.AppendAssociatedData(nil, h, kctx, 0, nil)
		sealed, err := ks.Seal(nil, []byte(value), aad)
		if err != nil {
			t.Fatal(err)
		}
		body := append(append([]byte(nil), h...), sealed...)
		if sig != nil {
			body = append(body, sig(format.AppendSigningMessage(nil, aad, sealed))...)
		}
		return text(body)
	}
	realBody, _ := base64Body(realText)
	unsig := realBody[: len(realBody)-64 : len(realBody)-64]
	for _, a := range []struct {
		name string
		tok  string
		want []error
	}{
		{"reseal, keep the real signature", forge(format.ModeSignedKeyset, `"forged"`, func([]byte) []byte { return real.Signature }), []error{ErrForged}},
		{"reseal, sign with the forger's key", forge(format.ModeSignedKeyset, `"forged"`, func(m []byte) []byte { return ed25519.Sign(myPriv, m) }), []error{ErrForged}},
		{"reseal, no signature", forge(format.ModeSignedKeyset, `"a longer forged value, to be sure"`, nil), []error{ErrForged, ErrMalformedToken}},
		{"non-canonical S", text(append(bytes.Clone(unsig), forgetest.NonCanonicalS(real.Signature)...)), []error{ErrForged}},
		{"signature cut", text(realBody[:len(realBody)-1]), []error{ErrForged, ErrMalformedToken}},
		{"an unsigned token (mode 0x03) sealed with the class's key", forge(format.ModeKeyset, `"forged"`, nil), []error{ErrUnsigned}},
	} {
		t.Run(a.name, func(t *testing.T) {
			got, err := reader.Decrypt(ctx, []byte(`{"ssn":"`+a.tok+`"}`))
			if err == nil {
				t.Fatalf("accepted: %s", got)
			}
			ok := false
			for _, w := range a.want {
				ok = ok || errors.Is(err, w)
			}
			if !ok {
				t.Errorf("%v, want one of %v", err, a.want)
			}
			assertNoCanary(t, "error", err.Error())
		})
	}
}

func mustEncrypt(t *testing.T, c *Codec, doc string) []byte {
	t.Helper()
	out, err := c.Encrypt(context.Background(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSignedKMSCalls: signing costs no KMS call. 2,000 encryptions and
// decryptions of a signed class in one process, and a document of 1,500
// signed tokens, make one GenerateDataKey and one Decrypt, as unsigned.
func TestSignedKMSCalls(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	for _, signed := range []string{"false", "true"} {
		srv.ResetCounts()
		c := signedKMSCodec(t, srv, signed, srv.KeyARN("primary"))
		doc := []byte(`{"ssn":"` + canarySSN + `"}`)
		for range 2000 {
			enc := mustEncrypt(t, c, string(doc))
			if dec, err := c.Decrypt(ctx, enc); err != nil || !bytes.Equal(dec, doc) {
				t.Fatalf("round trip: %v", err)
			}
		}
		var b strings.Builder
		b.WriteString(`{"records":[`)
		for i := range 1500 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"ssn":"%03d-55-%04d"}`, i%1000, i)
		}
		b.WriteString(`]}`)
		enc := mustEncrypt(t, c, b.String())
		if dec, err := signedKMSCodec(t, srv, signed, srv.KeyARN("primary")).Decrypt(ctx, enc); err != nil || string(dec) != b.String() {
			t.Fatalf("1,500 tokens: %v", err)
		}
		// One GenerateDataKey (the cached data key serves every
		// token) and two Decrypts: the first codec's and the fresh
		// reader's, one each.
		if g, d := srv.Requests("GenerateDataKey"), srv.Requests("Decrypt"); g != 1 || d != 2 {
			t.Errorf("signed %s: %d GenerateDataKey and %d Decrypt, want 1 and 2", signed, g, d)
		}
		t.Logf("signed %s: KMS requests: GenerateDataKey %d, Decrypt %d", signed, srv.Requests("GenerateDataKey"), srv.Requests("Decrypt"))
	}
}

// TestParseTokenSigned: ParseToken says which tokens are signed.
func TestParseTokenSigned(t *testing.T) {
	ctx := context.Background()
	for _, signed := range []bool{false, true} {
		c := newLocal(t, fmt.Sprintf(`[{"class":"identity","keyring":"dev","select":["$.ssn"],"signed":%v}]`, signed))
		tok, err := c.EncryptValue(ctx, "identity", []byte(`"x"`))
		if err != nil {
			t.Fatal(err)
		}
		info, err := ParseToken(tok)
		if err != nil || info != (TokenInfo{Class: "identity", Format: "native", Signed: signed}) {
			t.Errorf("ParseToken = %+v, %v; want signed %v", info, err, signed)
		}
	}
}
