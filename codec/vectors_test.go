package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crypto/ed25519"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

var (
	update    = flag.Bool("update", false, "write the test vectors of testdata/vectors that are missing")
	updateAll = flag.Bool("update-all", false, "with -update, rewrite every test vector (new nonces: every token changes)")
)

const vectorsDir = "../testdata/vectors"

// vector is one file of testdata/vectors: a document with tokens, the
// configuration to read it with, and what decrypting it must give.
type vector struct {
	Comment   string   `json:"comment"`
	Config    string   `json:"config"`            // relative to the vectors directory
	Classes   []string `json:"classes,omitempty"` // decrypt only these classes
	Encrypted string   `json:"encrypted"`
	// Expect is "ok" (then Plaintext is the exact output), or the kind of
	// failure: "malformed", "unsupported", "authentication", "no-key",
	// "invalid-key".
	Expect    string `json:"expect"`
	Plaintext string `json:"plaintext,omitempty"`
	Pointer   string `json:"pointer,omitempty"` // JSON Pointer of the failing token
}

var expectErr = map[string]error{
	"malformed":      ErrMalformedToken,
	"unsupported":    format.ErrUnsupported,
	"authentication": ErrAuthentication,
	"no-key":         envelope.ErrNoKey,
	"invalid-key":    envelope.ErrInvalidKey,
	"destroyed":      keyset.ErrDestroyed,
	"no-such-key":    keyset.ErrNoSuchKey,
	"missing-keyset": fs.ErrNotExist,
	"forged":         ErrForged,
	"unsigned":       ErrUnsigned,
}

func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	files, err := filepath.Glob(filepath.Join(vectorsDir, "*.vector.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test vectors in %s (%v)", vectorsDir, err)
	}
	ctx := context.Background()
	// Keyset-mode vectors read keysets encrypted by local-kms's "primary"
	// key, whose key material is fixed: one server for all of them.
	var kms *kmstest.Server
	parent := t
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var v vector
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &v); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(filepath.Join(vectorsDir, v.Config))
			if err != nil {
				t.Fatal(err)
			}
			var opts []Option
			for _, k := range cfg.Keyrings {
				if k.KMSKeyset != nil {
					if kms == nil {
						kms = kmstest.Start(parent)
					}
					opts = append(opts, WithKMSClients(envelope.KMSClients(kms.Config(parent))))
					break
				}
			}
			if v.Classes != nil {
				opts = append(opts, WithClasses(v.Classes...))
			}
			c, err := New(ctx, cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decrypt(ctx, []byte(v.Encrypted))
			if v.Expect == "ok" {
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if diff := cmp.Diff(v.Plaintext, string(got)); diff != "" {
					t.Errorf("decrypted mismatch (-want +got):\n%s", diff)
				}
				return
			}
			want, ok := expectErr[v.Expect]
			if !ok {
				t.Fatalf("unknown expect %q", v.Expect)
			}
			var te *TokenError
			if !errors.Is(err, want) || !errors.As(err, &te) {
				t.Fatalf("Decrypt error = %v, want %v", err, want)
			}
			if te.Pointer != v.Pointer {
				t.Errorf("error pointer = %q, want %q", te.Pointer, v.Pointer)
			}
		})
	}
}

// writeVectors regenerates the vectors (go test ./codec -run Vectors -update).
// Expected outputs are the documents the tokens were made from, never
// outputs of Decrypt.
func writeVectors(t *testing.T) {
	ctx := context.Background()
	load := func(name string, rulesClasses ...string) *Codec {
		cfg, err := LoadConfig(filepath.Join(vectorsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(rulesClasses) > 0 {
			var keep []Rule
			for _, r := range cfg.Rules {
				for _, cl := range rulesClasses {
					if r.Class == cl {
						keep = append(keep, r)
					}
				}
			}
			cfg.Rules = keep
		}
		c, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	enc := func(c *Codec, doc string) string {
		out, err := c.Encrypt(ctx, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	all := load("config.json")
	// mutate re-encodes the first token of doc after f changed its body.
	mutate := func(doc string, f func(body []byte) []byte) string {
		m := tokenRE.FindStringIndex(doc)
		tok, err := format.Decode([]byte(doc[m[0]+1:m[1]-1]), nil)
		if err != nil {
			t.Fatal(err)
		}
		body := append(append(bytes.Clone(tok.Header), tok.Payload...), tok.Signature...)
		return doc[:m[0]+1] + string(format.AppendText(nil, f(body))) + doc[m[1]-1:]
	}
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte {
			if i < 0 {
				i += len(b)
			}
			b[i] ^= 0x80
			return b
		}
	}

	plain := `{"applicant": {"name": "Ada", "ssn": "078-05-1120"},
 "phone": "+44 20 7946 0000", "list": [{"email": "a\u0040example.com"}, {"email": null}],
 "amount": 1.50e2, "ok": true}
`
	one := `{"ssn": "078-05-1120"}`
	v := map[string]vector{}
	v["basic"] = vector{Comment: "every JSON type, escapes and spacing come back byte for byte",
		Config: "config.json", Encrypted: enc(all, plain), Expect: "ok", Plaintext: plain}
	types := `{"ssn": [1, "two", {"three": 3.0}, null, true, false, -0, 1e400]}`
	v["types"] = vector{Comment: "an array with every JSON type as one value",
		Config: "config.json", Encrypted: enc(all, types), Expect: "ok", Plaintext: types}
	root := `"the whole document"`
	rootDoc, err := New(ctx, func() *Config {
		cfg, _ := LoadConfig(filepath.Join(vectorsDir, "config.json"))
		cfg.Rules = []Rule{{Class: "identity", Keyring: "dev", Select: []string{"$"}}}
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	v["root"] = vector{Comment: "the root value as a token", Config: "config.json",
		Encrypted: enc(rootDoc, root), Expect: "ok", Plaintext: root}
	padded := `{"padded": "short"}`
	v["padded"] = vector{Comment: "a rule with pad 16: the plaintext is padded with spaces, which decryption strips",
		Config: "config.json", Encrypted: enc(all, padded), Expect: "ok", Plaintext: padded}
	identityOnly := enc(load("config.json", "identity"), plain)
	v["classes"] = vector{Comment: "decrypting only the contact class leaves identity tokens as they are",
		Config: "config.json", Classes: []string{"contact"}, Encrypted: enc(load("config.json", "contact"), identityOnly),
		Expect: "ok", Plaintext: identityOnly}
	outer, err := New(ctx, func() *Config {
		cfg, _ := LoadConfig(filepath.Join(vectorsDir, "config.json"))
		cfg.Rules = []Rule{{Class: "contact", Keyring: "dev", Select: []string{"$.outer"}}}
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	nestedPlain := `{"outer": {"ssn": "078-05-1120"}}`
	v["nested"] = vector{Comment: "a token inside the plaintext of another token",
		Config: "config.json", Encrypted: enc(outer, enc(all, nestedPlain)), Expect: "ok", Plaintext: nestedPlain}

	base := enc(all, one)
	bad := func(name, comment, config, doc, expect string) {
		v[name] = vector{Comment: comment, Config: config, Encrypted: doc, Expect: expect, Pointer: "/ssn"}
	}
	bad("bad-version", "version byte 0x02", "config.json", mutate(base, func(b []byte) []byte { b[0] = 2; return b }), "unsupported")
	bad("bad-mode", "mode byte 0x06 (unknown)", "config.json", mutate(base, func(b []byte) []byte { b[1] = 6; return b }), "unsupported")
	bad("truncated-header", "the body cut inside the header", "config.json", mutate(base, func(b []byte) []byte { return b[:30] }), "malformed")
	bad("truncated", "the last ciphertext byte removed", "config.json", mutate(base, func(b []byte) []byte { return b[:len(b)-1] }), "authentication")
	bad("extended", "a byte appended", "config.json", mutate(base, func(b []byte) []byte { return append(b, 0) }), "authentication")
	bad("flipped-tag", "a bit of the tag flipped", "config.json", mutate(base, flip(-1)), "authentication")
	bad("flipped-nonce", "a bit of the nonce flipped", "config.json", mutate(base, flip(-(format.NonceSize+format.TagSize+len(`"078-05-1120"`)))), "authentication")
	bad("flipped-commitment", "a bit of the key commitment flipped", "config.json",
		mutate(base, flip(-(format.CommitmentSize+format.NonceSize+format.TagSize+len(`"078-05-1120"`)))), "authentication")
	bad("class-changed", "the class renamed from identity to contact", "config.json", mutate(base, func(b []byte) []byte {
		tok, err := format.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return append(format.AppendHeader(nil, "contact", tok.Keys, tok.Commitment), tok.Payload...)
	}), "invalid-key")
	bad("other-context", "read under another encryption context", "config-other-context.json", base, "invalid-key")
	bad("other-keyset", "read with a keyset that did not wrap the data key", "config-other-keyset.json", base, "no-key")
	bad("not-base64", "text after the prefix that is not base64url", "config.json", `{"ssn": "sfnenc:not*base64"}`, "malformed")
	bad("padded-base64", "base64 with padding characters", "config.json", base[:len(base)-2]+`=="}`, "malformed")

	// Bound to a business key: the associated data ends with the binding
	// (SECURITY.md, "Token format"), a string's content or a number's text.
	bound := load("config-bound.json")
	boundPlain := `{"applicationId": "APP-2026-0042", "caseNumber": 1.50e2, "ssn": "078-05-1120", "phone": "+44 20 7946 0000"}`
	boundEnc := enc(bound, boundPlain)
	v["bound"] = vector{Comment: "tokens bound to a business key: identity to the string $.applicationId, contact to the number $.caseNumber as written (1.50e2)",
		Config: "config-bound.json", Encrypted: boundEnc, Expect: "ok", Plaintext: boundPlain}
	v["bound-other-value"] = vector{Comment: "the same tokens in a document of another application: authentication fails",
		Config: "config-bound.json", Encrypted: strings.Replace(boundEnc, "APP-2026-0042", "APP-2026-0043", 1), Expect: "authentication", Pointer: "/ssn"}
	v["bound-number-spelling"] = vector{Comment: "the number 1.50e2 rewritten as 150, the same value: a number is bound by its text, so the contact token fails",
		Config: "config-bound.json", Encrypted: strings.Replace(boundEnc, "1.50e2", "150", 1), Expect: "authentication", Pointer: "/phone"}

	signedVectors(t, v, load, enc)

	for name, vec := range v {
		path := filepath.Join(vectorsDir, name+".vector.json")
		if _, err := os.Stat(path); err == nil && !*updateAll {
			continue // keep the vectors that second implementations already check against
		}
		data, err := json.MarshalIndent(vec, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vectorsDir, name+".vector.json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// signedVectors adds the vectors of signed classes (mode 0x04): a good
// token, and what a principal that may read the class but not write it
// can make from one, with the data key it unwraps (here with the insecure
// local keyset, as any reader of the vectors can).
func signedVectors(t *testing.T, v map[string]vector, load func(string, ...string) *Codec, enc func(*Codec, string) string) {
	one := `{"ssn": "078-05-1120"}`
	signed := load("config-signed.json")
	base := enc(signed, one)
	v["signed"] = vector{Comment: "a token of a signed class (mode 0x04)",
		Config: "config-signed.json", Encrypted: base, Expect: "ok", Plaintext: one}
	staged := load("config-signed-staged.json")
	v["signed-staged"] = vector{Comment: "a staged class's writer signs, and its reader reads the signed token",
		Config: "config-signed-staged.json", Encrypted: enc(staged, one), Expect: "ok", Plaintext: one}
	unsigned := enc(load("config.json", "identity"), one)
	v["signed-staged-unsigned"] = vector{Comment: "a staged class's reader still reads an unsigned token (mode 0x01)",
		Config: "config-signed-staged.json", Encrypted: unsigned, Expect: "ok", Plaintext: one}
	bad := func(name, comment, doc, expect string) {
		v[name] = vector{Comment: comment, Config: "config-signed.json", Encrypted: doc, Expect: expect, Pointer: "/ssn"}
	}
	bad("signed-unsigned", "an unsigned token (mode 0x01) of a class that requires signatures", unsigned, "unsigned")

	m := tokenRE.FindStringIndex(base)
	tokText := base[m[0]+1 : m[1]-1]
	replace := func(body []byte) string { return base[:m[0]+1] + text(body) + base[m[1]-1:] }
	tok, err := format.Decode([]byte(tokText), nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.LoadInsecureLocalKeyset("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	kctx := format.KeyContext(map[string]string{"app": "sfnenc-vectors", "stage": "test"}, "identity")
	dataKey, err := kr.Unwrap(context.Background(), tok.Keys, format.SignedKeyContext(kctx, tok.VerifyingKey))
	if err != nil {
		t.Fatal(err)
	}
	f := &forger{tok: tok, dataKey: dataKey, kctx: kctx}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := base64Body(tokText)
	if err != nil {
		t.Fatal(err)
	}
	unsig := body[: len(body)-format.SignatureSize : len(body)-format.SignatureSize]
	other := enc(load("config-signed.json"), one)
	otherTok, err := format.Decode([]byte(other[tokenRE.FindStringIndex(other)[0]+1:tokenRE.FindStringIndex(other)[1]-1]), nil)
	if err != nil {
		t.Fatal(err)
	}
	bad("signed-resealed", "another value sealed under the real data key and header, with the real signature", replace(f.seal(t, `"000-00-0000"`, nil, nil, tok.Signature)), "forged")
	bad("signed-swapped-key", "another value sealed under the real data key, the verifying key swapped for the forger's, signed by the forger: the data key does not unwrap under the forger's verifying key", replace(f.seal(t, `"000-00-0000"`, pub, priv, nil)), "forged")
	bad("signed-stripped", "the signature removed: too short for a signed token", replace(unsig), "malformed")
	bad("signed-short-signature", "the last byte of the signature removed", replace(body[:len(body)-1]), "forged")
	bad("signed-extended", "a byte appended after the signature", replace(append(bytes.Clone(body), 0)), "forged")
	bad("signed-non-canonical-s", "the real signature with S + l (the group order) in place of S", replace(append(bytes.Clone(unsig), forgetest.NonCanonicalS(tok.Signature)...)), "forged")
	bad("signed-other-signature", "the signature of a token of another data key", replace(append(bytes.Clone(unsig), otherTok.Signature...)), "forged")
	bad("signed-flipped-verifying-key", "a bit of the verifying key flipped", replace(func() []byte {
		b := bytes.Clone(body)
		b[len(tok.Header)-1] ^= 1
		return b
	}()), "forged")
}
