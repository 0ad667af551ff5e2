package kmstest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// BenchmarkStart measures starting a seeded local-kms and its proxy, up to
// the first answered request, and stopping them. (Each Start also registers
// a cleanup; close has already stopped the server when it runs.)
func BenchmarkStart(b *testing.B) {
	var starting time.Duration
	for b.Loop() {
		t0 := time.Now()
		srv := Start(b)
		starting += time.Since(t0)
		if _, err := generate(context.Background(), newClient(b, srv, 1), srv.KeyARN("primary")); err != nil {
			b.Fatal(err)
		}
		srv.close()
	}
	b.ReportMetric(float64(starting.Microseconds())/1000/float64(b.N), "ms-start")
}

// BenchmarkGenerateDataKey measures one AES_256 GenerateDataKey call of a
// real SDK client through the proxy, and directly to local-kms for
// comparison.
func BenchmarkGenerateDataKey(b *testing.B) {
	srv := Start(b)
	for _, bc := range []struct {
		name     string
		endpoint string
	}{
		{"proxy", srv.Endpoint()},
		{"direct", srv.backend.String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := srv.Config(b, config.WithBaseEndpoint(bc.endpoint))
			c := kms.NewFromConfig(cfg, func(o *kms.Options) { o.RetryMaxAttempts = 1 })
			ctx := context.Background()
			blob := 0
			for b.Loop() {
				out, err := generate(ctx, c, srv.KeyARN("primary"))
				if err != nil {
					b.Fatal(err)
				}
				blob = len(out.CiphertextBlob)
			}
			b.ReportMetric(float64(blob), "blob-bytes")
		})
	}
}
