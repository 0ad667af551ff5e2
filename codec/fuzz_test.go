package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
)

// vectorSeeds returns the documents of testdata/vectors (plaintexts and
// encrypted forms) as fuzz seeds; it fails if there are none.
func vectorSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join(vectorsDir, "*.vector.json"))
	if len(files) == 0 {
		f.Fatal("no seed vectors in testdata/vectors")
	}
	var seeds [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(data, &v); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, []byte(v.Encrypted))
		if v.Plaintext != "" {
			seeds = append(seeds, []byte(v.Plaintext))
		}
	}
	return seeds
}

func testKeyring(f testing.TB) envelope.Keyring {
	kr, err := envelope.LoadInsecureLocalKeyset("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		f.Fatal(err)
	}
	return kr
}

// FuzzRoundTrip: for any document and selector the codec accepts,
// decrypt(encrypt(doc)) is doc byte for byte, encrypt is idempotent, and
// errors are the documented kinds.
func FuzzRoundTrip(f *testing.F) {
	for i, s := range vectorSeeds(f) {
		sels := []string{"$..*", "$.ssn", "$..ssn", "$[*]", "$", "$..[0]", "$[?@.name]"}
		f.Add(s, sels[i%len(sels)])
	}
	kr := testKeyring(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, doc []byte, selector string) {
		cfg := &Config{
			Keyrings: map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
			Rules:    []Rule{{Class: "fuzz", Keyring: "dev", Select: []string{selector}}},
		}
		c, err := New(ctx, cfg, WithKeyring("dev", kr))
		if err != nil {
			if !errors.Is(err, fieldpath.ErrSelector) {
				t.Fatalf("New: %v", err)
			}
			return
		}
		enc, err := c.Encrypt(ctx, doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidDocument) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformedToken) &&
				!errors.Is(err, ErrForeignToken) && !errors.Is(err, ErrReservedPrefix) && !errors.Is(err, fieldpath.ErrEvaluation) {
				t.Fatalf("Encrypt error of an undocumented kind: %v", err)
			}
			return
		}
		again, err := c.Encrypt(ctx, enc)
		if err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("Encrypt is not idempotent: %v", err)
		}
		dec, err := c.Decrypt(ctx, enc)
		if err != nil {
			// A document may hold tokens made under other keys; those
			// fail, and only those.
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Decrypt: %v", err)
			}
			return
		}
		if !bytes.Equal(dec, doc) {
			t.Fatalf("round trip mismatch:\n got %q\nwant %q", dec, doc)
		}
	})
}

// FuzzDecrypt: decrypting any input never panics and fails only with the
// documented errors, leaving no output.
func FuzzDecrypt(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s)
	}
	kr := testKeyring(f)
	ctx := context.Background()
	cfg := &Config{
		EncryptionContext: map[string]string{"app": "sfnenc-vectors", "stage": "test"},
		Keyrings:          map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
		Rules:             []Rule{{Class: "identity", Keyring: "dev", Select: []string{"$..ssn"}}},
	}
	c, err := New(ctx, cfg, WithKeyring("dev", kr))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := c.Decrypt(ctx, doc)
		if err != nil {
			var te *TokenError
			if out != nil || !(errors.Is(err, ErrInvalidDocument) || errors.As(err, &te)) {
				t.Fatalf("Decrypt = %q, %v", out, err)
			}
			return
		}
		if _, err := jsontape.Scan(out, jsontape.Limits{}); err != nil {
			t.Fatalf("Decrypt output is not valid JSON: %v", err)
		}
		pout, failed, err := c.DecryptPartial(ctx, doc)
		if err != nil || len(failed) != 0 || !bytes.Equal(pout, out) {
			t.Fatalf("DecryptPartial disagrees with Decrypt: %v %v", err, failed)
		}
	})
}
