package codec

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/benchdoc"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// BenchmarkSigned measures signed classes beside unsigned ones in one run:
// sealing and opening one 20-byte field, and encrypting and decrypting the
// 256 KiB document of 1,500 selected values, in envelope mode (the insecure
// local keyring: data keys cached, so no KMS round trip in the loop) and in
// keyset mode (local-kms once, at the keyset's load). BENCHMARKS.md quotes
// it.
func BenchmarkSigned(b *testing.B) {
	if testing.Short() {
		b.Skip("starts local-kms; skipped with -short")
	}
	ctx := context.Background()
	var large benchdoc.Doc
	for _, d := range benchdoc.All() {
		if d.Name == "large" {
			large = d
		}
	}
	srv := kmstest.Start(b)
	dir := b.TempDir()
	st, err := keyset.NewStore(dir, envelope.KMSClients(srv.Config(b)), srv.KeyARN("primary"))
	if err != nil {
		b.Fatal(err)
	}
	ec := map[string]string{"app": "bench"}
	for _, class := range []string{"bench", "sbench"} {
		st.SetSigned(class, class == "sbench")
		if err := st.Create(ctx, class, ec); err != nil {
			b.Fatal(err)
		}
	}
	field := []byte(`"0123456789abcdefgh"`) // 20 bytes of JSON
	// The floor of signing and verifying: crypto/ed25519 alone, on a
	// message of a token's size.
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 300)
	sig := ed25519.Sign(priv, msg)
	b.Run("mode=baseline/ed25519/op=sign", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
	b.Run("mode=baseline/ed25519/op=verify", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("does not verify")
			}
		}
	})
	for _, mode := range []string{"envelope", "keyset"} {
		for _, signed := range []Signing{SignedOff, SignedRequired} {
			class := "bench"
			if signed != SignedOff {
				class = "sbench"
			}
			var cfg *Config
			var opts []Option
			if mode == "envelope" {
				cfg = &Config{EncryptionContext: ec,
					Keyrings: map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
					Rules:    []Rule{{Class: class, Keyring: "dev", Select: large.Selectors, Signed: signed}}}
				opts = append(opts, WithKeyring("dev", testKeyring(b)))
			} else {
				cfg = &Config{EncryptionContext: ec,
					Keyrings: map[string]KeyringConfig{"ks": {KMSKeyset: &KMSKeysetConfig{KeyARN: srv.KeyARN("primary"), Dir: dir}}},
					Rules:    []Rule{{Class: class, Keyring: "ks", Select: large.Selectors, Signed: signed}}}
				opts = append(opts, WithKMSClients(envelope.KMSClients(srv.Config(b))))
			}
			c, err := New(ctx, cfg, opts...)
			if err != nil {
				b.Fatal(err)
			}
			tok, err := c.EncryptValue(ctx, class, field)
			if err != nil {
				b.Fatal(err)
			}
			one := []byte(`{"ssn":"` + tok + `"}`)
			enc, err := c.Encrypt(ctx, large.JSON)
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("mode=%s/signed=%v", mode, signed != SignedOff)
			b.Run(name+"/op=seal-20B", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.EncryptValue(ctx, class, field); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(tok)), "token-chars")
			})
			b.Run(name+"/op=open-20B", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decrypt(ctx, one); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/doc=large/op=encrypt", func(b *testing.B) {
				b.SetBytes(int64(len(large.JSON)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Encrypt(ctx, large.JSON); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(enc)), "out-bytes")
			})
			b.Run(name+"/doc=large/op=decrypt", func(b *testing.B) {
				b.SetBytes(int64(len(large.JSON)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decrypt(ctx, enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
