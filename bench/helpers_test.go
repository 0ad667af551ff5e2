package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/sfnenc/sfnenc/codec"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/esdk"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// encryptionContext is the encryption context of every approach: the
// codec's configured context, the AWS Encryption SDK message's context, and
// (encoded) Tink's associated data.
var encryptionContext = map[string]string{"app": "bench"}

// awsConfig returns a configuration for KMS clients of srv that make one
// attempt per request, so that request counts are exact.
func awsConfig(tb testing.TB, srv *kmstest.Server) aws.Config {
	tb.Helper()
	return srv.Config(tb, config.WithRetryMaxAttempts(1))
}

// newCodec returns a codec whose rule "identity" selects sel with a KMS
// keyring over arns (the first makes data keys, the others are break-glass
// keys), in the given token format ("native" or "esdk").
func newCodec(tb testing.TB, srv *kmstest.Server, arns []string, format, sel string) *codec.Codec {
	tb.Helper()
	bg := ""
	if len(arns) > 1 {
		bg = `"` + strings.Join(arns[1:], `","`) + `"`
	}
	cfg, err := codec.ParseConfig(fmt.Appendf(nil, `{"encryptionContext":{"app":"bench"},
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%s]}}},
		"rules":[{"class":"identity","keyring":"main","select":[%q],"format":%q}]}`, arns[0], bg, sel, format))
	if err != nil {
		tb.Fatal(err)
	}
	ac := awsConfig(tb, srv)
	opts := []codec.Option{codec.WithKMSClients(envelope.KMSClients(ac))}
	if format == "esdk" {
		opts = append(opts, codec.WithESDK(esdk.Factory(ac)))
	}
	c, err := codec.New(context.Background(), cfg, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// newKeysetCodec returns a codec whose rule "identity" selects sel with a
// kmsKeyset keyring over arns, its keyset made in a new directory.
func newKeysetCodec(tb testing.TB, srv *kmstest.Server, arns []string, sel string) *codec.Codec {
	tb.Helper()
	dir := tb.TempDir()
	bg := ""
	if len(arns) > 1 {
		bg = `"` + strings.Join(arns[1:], `","`) + `"`
	}
	cfg, err := codec.ParseConfig(fmt.Appendf(nil, `{"encryptionContext":{"app":"bench"},
		"keyrings":{"main":{"kmsKeyset":{"keyArn":%q,"breakGlassKeyArns":[%s],"dir":%q}}},
		"rules":[{"class":"identity","keyring":"main","select":[%q]}]}`, arns[0], bg, dir, sel))
	if err != nil {
		tb.Fatal(err)
	}
	ac := awsConfig(tb, srv)
	st, err := keyset.NewStore(dir, envelope.KMSClients(ac), arns[0], arns[1:]...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Create(context.Background(), "identity", cfg.EncryptionContext); err != nil {
		tb.Fatal(err)
	}
	c, err := codec.New(context.Background(), cfg, codec.WithKMSClients(envelope.KMSClients(ac)))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// newTink returns Tink's KMS envelope AEAD with an AES-256-GCM data key per
// message, wrapped by the KMS key arn through tink-go-awskms over an
// aws-sdk-go-v2 KMS client of srv.
func newTink(tb testing.TB, srv *kmstest.Server, arn string) tink.AEADWithContext {
	tb.Helper()
	kek, err := awskms.NewAEADWithContext(context.Background(), arn, awskms.WithKMS(kms.NewFromConfig(awsConfig(tb, srv))))
	if err != nil {
		tb.Fatal(err)
	}
	a, err := aead.NewKMSEnvelopeAEADWithContext(aead.AES256GCMKeyTemplate(), kek)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// tinkAD is the associated data given to Tink: the encryption context.
var tinkAD = []byte("app=bench")

// newESDK returns an AWS Encryption SDK sealer (suite 0x0478, no cache)
// over arns.
func newESDK(tb testing.TB, srv *kmstest.Server, arns []string) *esdk.Sealer {
	tb.Helper()
	s, err := esdk.New(awsConfig(tb, srv), arns)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// kmsCounts is what reached local-kms.
type kmsCounts struct {
	total, generate, encrypt, decrypt int
}

func countsOf(srv *kmstest.Server) kmsCounts {
	return kmsCounts{
		total:    srv.Requests(""),
		generate: srv.Requests("GenerateDataKey"),
		encrypt:  srv.Requests("Encrypt"),
		decrypt:  srv.Requests("Decrypt"),
	}
}

func (c kmsCounts) String() string {
	return fmt.Sprintf("%d KMS requests (GenerateDataKey %d, Encrypt %d, Decrypt %d)", c.total, c.generate, c.encrypt, c.decrypt)
}
