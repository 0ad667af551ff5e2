package lambdamw_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/lambdamw"
)

// benchRecord is one of the 20 records of the benchmark event; SSN is the
// selected field.
type benchRecord struct {
	ID     string `json:"id"`
	SSN    string `json:"ssn"`
	Status string `json:"status"`
	Notes  string `json:"notes"`
}

type benchEvent struct {
	Batch   string        `json:"batch"`
	Records []benchRecord `json:"records"`
}

// benchHandler is the handler measured with and without the middleware: it
// decodes the event, changes every record and returns them.
func benchHandler(_ context.Context, ev benchEvent) (benchEvent, error) {
	for i := range ev.Records {
		ev.Records[i].Status = "checked"
	}
	return ev, nil
}

// benchRewriter is benchHandler that also changes every selected value, so
// that the middleware makes a new token for each.
func benchRewriter(ctx context.Context, ev benchEvent) (benchEvent, error) {
	for i := range ev.Records {
		ev.Records[i].SSN += "!"
	}
	return benchHandler(ctx, ev)
}

// benchDocument returns a 32 KiB event of 20 records, each with one selected
// field (an SSN), and the codec's rules for it.
func benchDocument(tb testing.TB) ([]byte, *codec.Codec) {
	tb.Helper()
	c := benchCodec(tb, "false")
	return benchEventOf(tb), c
}

// benchCodec returns a codec for the benchmark event whose class pii is
// signed as signed says.
func benchCodec(tb testing.TB, signed string) *codec.Codec {
	tb.Helper()
	cfg, err := codec.ParseConfig([]byte(`{"encryptionContext":{"app":"bench"},"keyrings":{"dev":{"insecureLocalKeyset":"` +
		keysetPath(tb) + `"}},"rules":[{"class":"pii","keyring":"dev","select":["$.records[*].ssn"],"signed":` + signed + `}]}`))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// benchEventOf returns the plaintext 32 KiB event.
func benchEventOf(tb testing.TB) []byte {
	var b strings.Builder
	b.WriteString(`{"batch":"b-1","records":[`)
	for i := range 20 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"r-%02d","ssn":"%03d-55-%04d","status":"new","notes":"%s"}`, i, i, 1000+i, strings.Repeat("n", 1570))
	}
	b.WriteString(`]}`)
	doc := []byte(b.String())
	if len(doc) < 32<<10-200 || len(doc) > 32<<10+200 {
		tb.Fatalf("event is %d bytes, want about 32 KiB", len(doc))
	}
	return doc
}

// BenchmarkWarmInvoke measures a warm invocation of the same handler
// unwrapped (what lambda.Start runs) and wrapped, with the codec's data keys
// cached: the difference is the middleware's cost per invocation.
func BenchmarkWarmInvoke(b *testing.B) {
	plain, c := benchDocument(b)
	event, err := c.Encrypt(context.Background(), plain)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sc := benchCodec(b, "true")
	signedEvent, err := sc.Encrypt(ctx, plain)
	if err != nil {
		b.Fatal(err)
	}
	info := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	quiet := slog.New(slog.DiscardHandler)
	for _, bc := range []struct {
		name  string
		h     lambda.Handler
		event []byte
	}{
		{"unwrapped", lambda.NewHandler(benchHandler), plain},
		{"wrapped", lambdamw.Wrap(benchHandler, lambdamw.WithCodec(c), lambdamw.WithLogger(info)), event},
		{"wrapped, no log", lambdamw.Wrap(benchHandler, lambdamw.WithCodec(c), lambdamw.WithLogger(quiet)), event},
		// A signed class: 20 signatures verified on entry; the SSNs come
		// back unchanged, so their tokens are given back, unsigned anew.
		{"wrapped, signed", lambdamw.Wrap(benchHandler, lambdamw.WithCodec(sc), lambdamw.WithLogger(info)), signedEvent},
		// And a handler that changes every SSN: 20 new signed tokens.
		{"wrapped, signed, values changed", lambdamw.Wrap(benchRewriter, lambdamw.WithCodec(sc), lambdamw.WithLogger(info)), signedEvent},
		{"wrapped, values changed", lambdamw.Wrap(benchRewriter, lambdamw.WithCodec(c), lambdamw.WithLogger(info)), event},
		// The codec's own work on the same event, for the ratio: the
		// middleware's cost is wrapped minus unwrapped.
		{"codec Decrypt+Encrypt", bytesHandler(func(ctx context.Context, ev []byte) ([]byte, error) {
			p, err := c.Decrypt(ctx, ev)
			if err != nil {
				return nil, err
			}
			return c.Encrypt(ctx, p)
		}), event},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Warm up: the data keys are now cached.
			if _, err := bc.h.Invoke(ctx, bc.event); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.event)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.h.Invoke(ctx, bc.event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkColdStart measures what Wrap does once per execution
// environment: read the configuration from the environment and build the
// codec, with a KMS keyring (loading the AWS configuration, no KMS call).
func BenchmarkColdStart(b *testing.B) {
	b.Setenv(lambdamw.EnvConfig, `{"encryptionContext":{"app":"bench"},"keyrings":{"kms":{"kms":{"keyArn":"arn:aws:kms:eu-west-2:111122223333:key/347f55c5-5c7a-4ae6-902c-4b58b88623e4"}}},`+
		`"rules":[{"class":"pii","keyring":"kms","select":["$.records[*].ssn","$..phone"]},{"class":"card","keyring":"kms","select":["$..card"]}]}`)
	b.Setenv("AWS_REGION", "eu-west-2")
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDBENCH")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "bench")
	b.Setenv("AWS_CONFIG_FILE", "/dev/null")
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	logger, logs := newLogger(slog.LevelInfo)
	lambdamw.Wrap(benchHandler, lambdamw.WithLogger(logger))
	if len(logs.records(b, "lambdamw: ready")) != 1 {
		b.Fatalf("the middleware did not start:\n%s", logs)
	}
	quiet := slog.New(slog.DiscardHandler)
	b.ReportAllocs()
	for b.Loop() {
		lambdamw.Wrap(benchHandler, lambdamw.WithLogger(quiet))
	}
}

// bytesHandler is a lambda.Handler of a function on bytes.
type bytesHandler func(context.Context, []byte) ([]byte, error)

func (h bytesHandler) Invoke(ctx context.Context, p []byte) ([]byte, error) { return h(ctx, p) }
