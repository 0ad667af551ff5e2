package codec

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sfnenc/sfnenc/internal/benchdoc"
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
