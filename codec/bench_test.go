package codec

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/benchdoc"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// Benchmarks run with a cached data key (the insecure local keyring, so no
// KMS round trip after the first token). Baselines in the same run:
// json.Valid (the floor of any pass that reads the document) and decoding
// into any and encoding again (what a naive wrapper does).
func BenchmarkCodec(b *testing.B) {
	ctx := context.Background()
	kr := testKeyring(b)
	for _, d := range benchdoc.All() {
		cfg := &Config{
			Keyrings: map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
			Rules:    []Rule{{Class: "bench", Keyring: "dev", Select: d.Selectors}},
		}
		c, err := New(ctx, cfg, WithKeyring("dev", kr))
		if err != nil {
			b.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, d.JSON)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("doc="+d.Name+"/op=encrypt", func(b *testing.B) {
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(ctx, d.JSON); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc)), "out-bytes")
		})
		b.Run("doc="+d.Name+"/op=decrypt", func(b *testing.B) {
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Decrypt(ctx, enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		if d.Name == "large-object" {
			continue // same bytes as large
		}
		b.Run("doc="+d.Name+"/op=baseline-json-valid", func(b *testing.B) {
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(d.JSON) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run("doc="+d.Name+"/op=baseline-decode-encode", func(b *testing.B) {
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(d.JSON, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCodecKMS is BenchmarkCodec's large document with KMS keyrings
// (local-kms; data keys cached, so one KMS request per data key for the
// whole run): tokens then carry the key ARN and KMS ciphertext of each key,
// about twice the header of the local keyring's tokens.
func BenchmarkCodecKMS(b *testing.B) {
	if testing.Short() {
		b.Skip("starts local-kms; skipped with -short")
	}
	srv := kmstest.Start(b)
	ctx := context.Background()
	var large benchdoc.Doc
	for _, d := range benchdoc.All() {
		if d.Name == "large" {
			large = d
		}
	}
	for _, keys := range [][]string{{"primary"}, {"primary", "breakglass"}} {
		kc := &KMSKeyringConfig{KeyARN: srv.KeyARN(keys[0])}
		for _, k := range keys[1:] {
			kc.BreakGlassKeyARNs = append(kc.BreakGlassKeyARNs, srv.KeyARN(k))
		}
		cfg := &Config{
			EncryptionContext: map[string]string{"app": "bench"},
			Keyrings:          map[string]KeyringConfig{"main": {KMS: kc}},
			Rules:             []Rule{{Class: "bench", Keyring: "main", Select: large.Selectors}},
		}
		c, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(srv.Config(b))))
		if err != nil {
			b.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, large.JSON)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("doc=large/keys=%d", len(keys))
		b.Run(name+"/op=encrypt", func(b *testing.B) {
			b.SetBytes(int64(len(large.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(ctx, large.JSON); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc)), "out-bytes")
		})
		b.Run(name+"/op=decrypt", func(b *testing.B) {
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

// BenchmarkEncryptOneField encrypts a single selected value in documents of
// 2 KiB to 256 KiB: time grows with the bytes scanned, allocations do not
// grow with the number of unselected values.
func BenchmarkEncryptOneField(b *testing.B) {
	ctx := context.Background()
	kr := testKeyring(b)
	for _, d := range benchdoc.All() {
		if d.Name == "large-object" {
			continue // same bytes as large
		}
		cfg := &Config{
			Keyrings: map[string]KeyringConfig{"dev": {InsecureLocalKeyset: "unused"}},
			Rules:    []Rule{{Class: "bench", Keyring: "dev", Select: []string{"$.records[0].ssn"}}},
		}
		c, err := New(ctx, cfg, WithKeyring("dev", kr))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("doc="+d.Name, func(b *testing.B) {
			b.SetBytes(int64(len(d.JSON)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Encrypt(ctx, d.JSON); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
