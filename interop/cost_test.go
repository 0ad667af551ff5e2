package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// The measurements here compare the two token modes; they log figures and
// assert only what is documented (KMS requests per field), never times.

// value20 is a 20-byte JSON value, the size of a phone number or an ID.
const value20 = `"123-45-6789-000000"`

var kmsOps = []string{"GenerateDataKey", "Encrypt", "Decrypt"}

type variant struct {
	mode, keys string
}

var variants = []variant{
	{"native", "kms"}, {"native", "kms+breakglass"},
	{"esdk", "kms"}, {"esdk", "kms+breakglass"},
}

// costCodec returns a new codec (with empty caches) for one class "f" that
// selects $.f[*], in the given mode, under the primary key and maybe the
// break-glass key.
func costCodec(tb testing.TB, srv *kmstest.Server, v variant) *codec.Codec {
	tb.Helper()
	bg := ""
	if v.keys == "kms+breakglass" {
		bg = fmt.Sprintf(`,"breakGlassKeyArns":[%q]`, srv.KeyARN("breakglass"))
	}
	cfg, err := codec.ParseConfig(fmt.Appendf(nil, `{"encryptionContext":{"app":"interop","stage":"test"},
		"keyrings":{"main":{"kms":{"keyArn":%q%s}}},
		"rules":[{"class":"f","keyring":"main","select":["$.f[*]"],"format":%q}]}`,
		srv.KeyARN("primary"), bg, v.mode))
	if err != nil {
		tb.Fatal(err)
	}
	ac := srv.Config(tb, config.WithRetryMaxAttempts(1))
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(ac)), codec.WithESDK(esdk.Factory(ac)))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func requests(srv *kmstest.Server) string {
	var parts []string
	for _, op := range kmsOps {
		if n := srv.Requests(op); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, op))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// TestCostPerField logs, for each mode and keyring, the size of a token for
// a 20-byte value and the KMS requests (and the time, on local-kms) to
// encrypt and then decrypt a document of 100 such fields, each with a new
// codec as in a new Lambda execution environment.
func TestCostPerField(t *testing.T) {
	const fields = 100
	srv := kmstest.Start(t)
	ctx := context.Background()
	doc := []byte(`{"f":[` + strings.Repeat(value20+",", fields-1) + value20 + `]}`)
	var report strings.Builder
	fmt.Fprintf(&report, "\n| mode | keys | token for 20 B | %d fields: encrypt | KMS requests | decrypt | KMS requests |\n|---|---|---|---|---|---|---|\n", fields)
	for _, v := range variants {
		tok, err := costCodec(t, srv, v).EncryptValue(ctx, "f", []byte(value20))
		if err != nil {
			t.Fatal(err)
		}

		enc := costCodec(t, srv, v)
		srv.ResetCounts()
		start := time.Now()
		out, err := enc.Encrypt(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		encTime, encReq, encN := time.Since(start), requests(srv), srv.Requests("")

		dec := costCodec(t, srv, v)
		srv.ResetCounts()
		start = time.Now()
		back, err := dec.Decrypt(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		decTime, decReq, decN := time.Since(start), requests(srv), srv.Requests("")
		if !bytes.Equal(back, doc) {
			t.Fatalf("%v: round trip changed the document", v)
		}

		// Documented: ESDK mode makes one KMS request per key and field
		// on encrypt, one per field on decrypt; native mode one per key
		// (a cached data key) and one.
		keys := strings.Count(v.keys, "+") + 1
		wantEnc, wantDec := keys, 1
		if v.mode == "esdk" {
			wantEnc, wantDec = fields*keys, fields
		}
		if encN != wantEnc || decN != wantDec {
			t.Errorf("%v: %d requests to encrypt, %d to decrypt; want %d and %d", v, encN, decN, wantEnc, wantDec)
		}
		fmt.Fprintf(&report, "| %s | %s | %d chars | %v | %s | %v | %s |\n", v.mode, v.keys, len(tok),
			encTime.Round(time.Millisecond), encReq, decTime.Round(time.Millisecond), decReq)
	}
	t.Log(report.String())
}

// BenchmarkField measures one field of a 20-byte value in each mode, with a
// codec that lives across operations (warm caches, as in a reused Lambda
// execution environment): encrypt is EncryptValue, decrypt is Decrypt of a
// document that holds only the token. It reports the token's length and the
// KMS requests per operation beside the time.
func BenchmarkField(b *testing.B) {
	srv := kmstest.Start(b)
	ctx := context.Background()
	for _, v := range variants {
		c := costCodec(b, srv, v)
		tok, err := c.EncryptValue(ctx, "f", []byte(value20))
		if err != nil {
			b.Fatal(err)
		}
		doc := []byte(`["` + tok + `"]`)
		name := "mode=" + v.mode + "/keys=" + v.keys
		b.Run(name+"/op=encrypt", func(b *testing.B) {
			srv.ResetCounts()
			for b.Loop() {
				if _, err := c.EncryptValue(ctx, "f", []byte(value20)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tok)), "token-chars")
			b.ReportMetric(float64(srv.Requests(""))/float64(b.N), "kms-req/op")
		})
		b.Run(name+"/op=decrypt", func(b *testing.B) {
			srv.ResetCounts()
			for b.Loop() {
				if _, err := c.Decrypt(ctx, doc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(srv.Requests(""))/float64(b.N), "kms-req/op")
		})
	}
}

// TestBinarySize logs the size of two small programs that build a codec
// from a configuration file and encrypt a document, without and with
// codec.WithESDK, built as a Lambda function would be: CGO_ENABLED=0
// -trimpath -ldflags='-s -w'. The programs are in testdata/sizeprobe.
func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs; not in -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	dir := t.TempDir()
	size := map[string]int64{}
	for _, p := range []string{"native", "esdk"} {
		out := filepath.Join(dir, p)
		cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/sizeprobe/"+p)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", p, err, b)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		size[p] = fi.Size()
	}
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	t.Logf("stripped binary: codec without WithESDK %s (%d bytes), with WithESDK %s (%d bytes): +%s",
		mb(size["native"]), size["native"], mb(size["esdk"]), size["esdk"], mb(size["esdk"]-size["native"]))
}
