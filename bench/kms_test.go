package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// roundTrip encrypts one JSON value as a library stores it and decrypts it
// again, and fails if the value does not come back.
type roundTrip func(ctx context.Context, value []byte) error

var errChanged = errors.New("value changed in the round trip")

// library is one way of encrypting fields one by one under a KMS key.
type library struct {
	name  string
	setup func(tb testing.TB, srv *kmstest.Server) roundTrip
}

var libraries = []library{
	{
		// The codec with a KMS keyring: a document with one selected
		// field, encrypted and decrypted by one Codec (its caches are
		// the point).
		name: "codec",
		setup: func(tb testing.TB, srv *kmstest.Server) roundTrip {
			c := newCodec(tb, srv, []string{srv.KeyARN("primary")}, "native", "$.ssn")
			var doc []byte
			return func(ctx context.Context, value []byte) error {
				doc = append(append(append(doc[:0], `{"ssn":`...), value...), '}')
				enc, err := c.Encrypt(ctx, doc)
				if err != nil {
					return err
				}
				dec, err := c.Decrypt(ctx, enc)
				if err != nil {
					return err
				}
				if !bytes.Equal(dec, doc) {
					return errChanged
				}
				return nil
			}
		},
	},
	{
		// Tink's KMS envelope AEAD: a fresh data key per message, wrapped
		// with KMS Encrypt, unwrapped with KMS Decrypt.
		name: "tink",
		setup: func(tb testing.TB, srv *kmstest.Server) roundTrip {
			a := newTink(tb, srv, srv.KeyARN("primary"))
			return func(ctx context.Context, value []byte) error {
				ct, err := a.EncryptWithContext(ctx, value, tinkAD)
				if err != nil {
					return err
				}
				pt, err := a.DecryptWithContext(ctx, ct, tinkAD)
				if err != nil {
					return err
				}
				if !bytes.Equal(pt, value) {
					return errChanged
				}
				return nil
			}
		},
	},
	{
		// The AWS Encryption SDK for Go, suite 0x0478, without a cache
		// (the Go ESDK has no caching materials manager).
		name: "esdk",
		setup: func(tb testing.TB, srv *kmstest.Server) roundTrip {
			s := newESDK(tb, srv, []string{srv.KeyARN("primary")})
			return func(ctx context.Context, value []byte) error {
				msg, err := s.Encrypt(ctx, value, encryptionContext)
				if err != nil {
					return err
				}
				pt, err := s.Decrypt(ctx, msg, encryptionContext)
				if err != nil {
					return err
				}
				if !bytes.Equal(pt, value) {
					return errChanged
				}
				return nil
			}
		},
	},
}

// ssn appends the i-th small field value (a 13-byte JSON string) to dst.
func ssn(dst []byte, i int) []byte {
	return fmt.Appendf(dst, `"%03d-%02d-%04d"`, i%1000, i/1000%100, i%10000)
}

// roundTrips is how many fields TestKMSRequestCounts encrypts and decrypts
// with each library.
const roundTrips = 10_000

// TestKMSRequestCounts encrypts and then decrypts 10,000 small fields, one
// by one, with each library in one process, and logs the KMS requests that
// reached local-kms. The codec must make at most 2 (one GenerateDataKey,
// one Decrypt); the others make 2 per field.
func TestKMSRequestCounts(t *testing.T) {
	measurement(t, "10,000 round trips per library")
	ctx := context.Background()
	totals := map[string]kmsCounts{}
	for _, lib := range libraries {
		t.Run(lib.name, func(t *testing.T) {
			srv := kmstest.Start(t)
			rt := lib.setup(t, srv)
			srv.ResetCounts()
			var value []byte
			start := time.Now()
			for i := range roundTrips {
				value = ssn(value[:0], i)
				if err := rt(ctx, value); err != nil {
					t.Fatalf("round trip %d: %v", i, err)
				}
			}
			elapsed := time.Since(start)
			got := countsOf(srv)
			totals[lib.name] = got
			t.Logf("%s: %d encrypt + %d decrypt operations: %v, in %v (%.1f µs per round trip)",
				lib.name, roundTrips, roundTrips, got, elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/roundTrips)
			switch lib.name {
			case "codec":
				if got.total > 2 {
					t.Errorf("codec made %v, want at most 2", got)
				}
			default:
				// One data key per message, one KMS request to make it
				// and one to unwrap it: a lower count would mean the
				// proxy did not see every request.
				if got.total != 2*roundTrips {
					t.Errorf("%s made %v, want %d", lib.name, got, 2*roundTrips)
				}
			}
		})
	}
	t.Logf("KMS requests for %d encrypt + %d decrypt operations of one small field each: codec %d, tink %d, esdk %d",
		roundTrips, roundTrips, totals["codec"].total, totals["tink"].total, totals["esdk"].total)
}

// BenchmarkKMSRoundTrip measures one encrypt and one decrypt of one small
// field per operation, with each library against local-kms on loopback
// (about 1-2 ms per KMS request). It reports the KMS requests that reached
// local-kms: per operation, and in total for the b.N operations of the
// run. The codec's one GenerateDataKey and one Decrypt are spread over the
// whole run; TestKMSRequestCounts gives the totals for exactly 10,000.
func BenchmarkKMSRoundTrip(b *testing.B) {
	measurement(b, "KMS requests per operation")
	ctx := context.Background()
	srv := kmstest.Start(b)
	for _, lib := range libraries {
		b.Run("lib="+lib.name, func(b *testing.B) {
			rt := lib.setup(b, srv)
			srv.ResetCounts()
			var value []byte
			i := 0
			for b.Loop() {
				value = ssn(value[:0], i)
				if err := rt(ctx, value); err != nil {
					b.Fatalf("round trip %d: %v", i, err)
				}
				i++
			}
			n := srv.Requests("")
			b.ReportMetric(float64(n)/float64(b.N), "kms-requests/op")
			b.ReportMetric(float64(n), "kms-requests")
		})
	}
}
