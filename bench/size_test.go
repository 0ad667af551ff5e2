package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// payloadLimit is the Step Functions limit on a state's input or output.
const payloadLimit = 262_144

// value20 is the i-th distinct 20-byte JSON value (a string).
func value20(i int) []byte {
	return fmt.Appendf(nil, `"v%017d"`, i)
}

// fieldsDoc returns {"f":[v0,v1,...]} with the n given values: the most
// compact document that holds n selected fields ($.f[*]).
func fieldsDoc(values [][]byte) []byte {
	doc := append([]byte(`{"f":[`), bytes.Join(values, []byte(","))...)
	return append(doc, `]}`...)
}

// docOverhead is the size of fieldsDoc with no values.
var docOverhead = len(fieldsDoc(nil))

// sizeApproach is one way of storing encrypted fields in a JSON payload.
type sizeApproach struct {
	name string
	keys []string // names of kmstest keys: the first makes data keys
	// newEncrypter returns a function that returns a fieldsDoc document
	// of values, each encrypted as the approach stores it. With reuse,
	// approaches that encrypt value by value may keep the encryption of
	// the i-th value for later calls.
	newEncrypter func(tb testing.TB, srv *kmstest.Server, arns []string, reuse bool) docEncrypter
}

type docEncrypter func(ctx context.Context, values [][]byte) ([]byte, error)

// codecEncrypter encrypts the values with the codec in the given format.
func codecEncrypter(format string) func(testing.TB, *kmstest.Server, []string, bool) docEncrypter {
	return func(tb testing.TB, srv *kmstest.Server, arns []string, _ bool) docEncrypter {
		c := newCodec(tb, srv, arns, format, "$.f[*]")
		return func(ctx context.Context, values [][]byte) ([]byte, error) {
			return c.Encrypt(ctx, fieldsDoc(values))
		}
	}
}

// messageEncrypter stores each value as a binary message (one KMS-wrapped
// data key each) in a JSON string, base64 with padding, as encoding/json
// writes a []byte. With reuse, the message of the i-th value is made once,
// so that a search over document sizes makes each message once.
func messageEncrypter(seal func(tb testing.TB, srv *kmstest.Server, arns []string) func(context.Context, []byte) ([]byte, error)) func(testing.TB, *kmstest.Server, []string, bool) docEncrypter {
	return func(tb testing.TB, srv *kmstest.Server, arns []string, reuse bool) docEncrypter {
		s := seal(tb, srv, arns)
		var made [][]byte
		return func(ctx context.Context, values [][]byte) ([]byte, error) {
			if !reuse {
				made = made[:0]
			}
			strs := make([][]byte, len(values))
			for i, v := range values {
				if i < len(made) {
					strs[i] = made[i]
					continue
				}
				msg, err := s(ctx, v)
				if err != nil {
					return nil, err
				}
				str := fmt.Appendf(nil, `"%s"`, base64.StdEncoding.EncodeToString(msg))
				made = append(made, str)
				strs[i] = str
			}
			return fieldsDoc(strs), nil
		}
	}
}

// keysetEncrypter encrypts the values with the codec in keyset mode: the
// keyset of class identity, encrypted under arns, in a new directory.
func keysetEncrypter(tb testing.TB, srv *kmstest.Server, arns []string, _ bool) docEncrypter {
	c := newKeysetCodec(tb, srv, arns, "$.f[*]")
	return func(ctx context.Context, values [][]byte) ([]byte, error) {
		return c.Encrypt(ctx, fieldsDoc(values))
	}
}

var sizeApproaches = []sizeApproach{
	{"codec-keyset", []string{"primary"}, keysetEncrypter},
	{"codec-keyset", []string{"primary", "breakglass"}, keysetEncrypter},
	{"codec-native", []string{"primary"}, codecEncrypter("native")},
	{"codec-native", []string{"primary", "breakglass"}, codecEncrypter("native")},
	{"codec-esdk-mode", []string{"primary"}, codecEncrypter("esdk")},
	{"codec-esdk-mode", []string{"primary", "breakglass"}, codecEncrypter("esdk")},
	{"esdk-message", []string{"primary"}, messageEncrypter(func(tb testing.TB, srv *kmstest.Server, arns []string) func(context.Context, []byte) ([]byte, error) {
		s := newESDK(tb, srv, arns)
		return func(ctx context.Context, v []byte) ([]byte, error) { return s.Encrypt(ctx, v, encryptionContext) }
	})},
	{"esdk-message", []string{"primary", "breakglass"}, messageEncrypter(func(tb testing.TB, srv *kmstest.Server, arns []string) func(context.Context, []byte) ([]byte, error) {
		s := newESDK(tb, srv, arns)
		return func(ctx context.Context, v []byte) ([]byte, error) { return s.Encrypt(ctx, v, encryptionContext) }
	})},
	{"tink-envelope", []string{"primary"}, messageEncrypter(func(tb testing.TB, srv *kmstest.Server, arns []string) func(context.Context, []byte) ([]byte, error) {
		a := newTink(tb, srv, arns[0])
		return func(ctx context.Context, v []byte) ([]byte, error) { return a.EncryptWithContext(ctx, v, tinkAD) }
	})},
}

// sizeResult is what TestSize and BenchmarkSize report for an approach.
type sizeResult struct {
	field     int // bytes of one encrypted 20-byte field, as stored in JSON (quotes included)
	added     int // field - 20
	maxFields int // most 20-byte fields a 262,144-byte payload holds once encrypted
}

// measureSize encrypts one 20-byte field to find its size, then searches
// for the largest n such that the document of n encrypted fields fits in
// payloadLimit bytes, by building and encrypting such documents.
func measureSize(ctx context.Context, encrypt docEncrypter) (sizeResult, error) {
	var values [][]byte
	size := func(n int) (int, error) {
		for len(values) < n {
			values = append(values, value20(len(values)))
		}
		out, err := encrypt(ctx, values[:n])
		return len(out), err
	}
	one, err := size(1)
	if err != nil {
		return sizeResult{}, err
	}
	r := sizeResult{field: one - docOverhead}
	r.added = r.field - len(value20(0))
	// Bracket the answer around the estimate from one field (each field
	// after the first adds a comma), then bisect: fits(lo), !fits(hi).
	fits := func(n int) (bool, error) {
		s, err := size(n)
		return s <= payloadLimit, err
	}
	est := (payloadLimit - docOverhead + 1) / (r.field + 1)
	lo, hi := max(est-4, 0), est+4
	for {
		ok, err := fits(lo)
		if err != nil {
			return r, err
		}
		if ok {
			break
		}
		lo, hi = max(lo-64, 0), lo
	}
	for {
		ok, err := fits(hi)
		if err != nil {
			return r, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi+64
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := fits(mid)
		if err != nil {
			return r, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	r.maxFields = lo
	return r, nil
}

func (a sizeApproach) label() string { return fmt.Sprintf("%s/keys=%d", a.name, len(a.keys)) }

func (a sizeApproach) arns(srv *kmstest.Server) []string {
	var arns []string
	for _, k := range a.keys {
		arns = append(arns, srv.KeyARN(k))
	}
	return arns
}

// plaintextMaxFields is the number of unencrypted 20-byte fields that fit.
func plaintextMaxFields() int {
	return (payloadLimit - docOverhead + 1) / (len(value20(0)) + 1)
}

// TestSize logs the bytes each approach adds to a 20-byte field and the
// most such fields a 256 KiB Step Functions payload holds once encrypted.
func TestSize(t *testing.T) {
	measurement(t, "some thousand KMS requests")
	srv := kmstest.Start(t)
	ctx := context.Background()
	t.Logf("unencrypted: %d fields of 20 bytes fit in %d bytes", plaintextMaxFields(), payloadLimit)
	for _, a := range sizeApproaches {
		t.Run(a.label(), func(t *testing.T) {
			r, err := measureSize(ctx, a.newEncrypter(t, srv, a.arns(srv), true))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: a 20-byte value becomes %d bytes of JSON (+%d); at most %d such fields in %d bytes", a.label(), r.field, r.added, r.maxFields, payloadLimit)
			if r.maxFields < 1 || r.maxFields >= plaintextMaxFields() {
				t.Errorf("max fields = %d, want between 1 and %d", r.maxFields, plaintextMaxFields())
			}
		})
	}
}

// sizeCache keeps BenchmarkSize's results for the process: the search makes
// thousands of KMS requests for the ESDK approaches, and its result does
// not change between runs of a benchmark.
var sizeCache = struct {
	sync.Mutex
	m map[string]sizeResult
}{m: map[string]sizeResult{}}

// BenchmarkSize reports each approach's size figures as metrics
// (field-bytes, added-bytes, max-fields/256KiB), and times encrypting a
// document with one 20-byte field.
func BenchmarkSize(b *testing.B) {
	measurement(b, "KMS requests per operation")
	srv := kmstest.Start(b)
	ctx := context.Background()
	b.Run("approach=plaintext", func(b *testing.B) {
		values := [][]byte{value20(0)}
		for b.Loop() {
			fieldsDoc(values)
		}
		b.ReportMetric(float64(len(value20(0))), "field-bytes")
		b.ReportMetric(0, "added-bytes")
		b.ReportMetric(float64(plaintextMaxFields()), "max-fields/256KiB")
	})
	for _, a := range sizeApproaches {
		b.Run("approach="+a.label(), func(b *testing.B) {
			arns := a.arns(srv)
			sizeCache.Lock()
			r, ok := sizeCache.m[a.label()]
			if !ok {
				var err error
				if r, err = measureSize(ctx, a.newEncrypter(b, srv, arns, true)); err != nil {
					sizeCache.Unlock()
					b.Fatal(err)
				}
				sizeCache.m[a.label()] = r
			}
			sizeCache.Unlock()
			enc := a.newEncrypter(b, srv, arns, false)
			for b.Loop() {
				if _, err := enc(ctx, [][]byte{value20(0)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(r.field), "field-bytes")
			b.ReportMetric(float64(r.added), "added-bytes")
			b.ReportMetric(float64(r.maxFields), "max-fields/256KiB")
		})
	}
}
