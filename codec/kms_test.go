package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// kmsCodec builds a codec over local-kms with the given keys: the first
// makes data keys, the others are break-glass keys.
func kmsCodec(t testing.TB, srv *kmstest.Server, keys []string, opts ...Option) *Codec {
	t.Helper()
	return kmsRulesCodec(t, srv, keys, `[{"class":"identity","keyring":"main","select":["$..ssn"]},
		{"class":"contact","keyring":"main","select":["$..phone"]}]`, opts...)
}

// kmsRulesCodec is a codec of the given rules over the keyring "main" of
// keys (the first the primary key, the rest break-glass keys) at srv,
// under the encryption context {"app": "kms-test"}.
func kmsRulesCodec(t testing.TB, srv *kmstest.Server, keys []string, rules string, opts ...Option) *Codec {
	t.Helper()
	bg := ""
	if len(keys) > 1 {
		bg = `"` + strings.Join(keys[1:], `","`) + `"`
	}
	js := fmt.Sprintf(`{"encryptionContext":{"app":"kms-test"},
		"keyrings":{"main":{"kms":{"keyArn":%q,"breakGlassKeyArns":[%s]}}},
		"rules":%s}`, keys[0], bg, rules)
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	// One attempt per call unless a test asks otherwise, so that request
	// counts are exact.
	ac := srv.Config(t, config.WithRetryMaxAttempts(1))
	c, err := New(context.Background(), cfg, append([]Option{WithKMSClients(envelope.KMSClients(ac))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var kmsDoc = []byte(`{"applicant":{"ssn":"` + canarySSN + `","phone":"` + canaryPhone + `"},"n":1}`)

func TestKMSRoundTrip(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	primary, bg, other := srv.KeyARN("primary"), srv.KeyARN("breakglass"), srv.KeyARN("other")

	writer := kmsCodec(t, srv, []string{primary, bg})
	enc, err := writer.Encrypt(ctx, kmsDoc)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "encrypted", string(enc))
	if got := srv.Requests("GenerateDataKey"); got != 2 { // one per class
		t.Errorf("GenerateDataKey calls = %d, want 2", got)
	}
	if got := srv.Requests("Encrypt"); got != 2 { // the break-glass wrap, per class
		t.Errorf("Encrypt calls = %d, want 2", got)
	}

	for _, tt := range []struct {
		name string
		keys []string
		want error
	}{
		{"writer's keys", []string{primary, bg}, nil},
		{"break-glass key only", []string{bg}, nil},
		{"primary only", []string{primary}, nil},
		{"an unrelated key", []string{other}, envelope.ErrNoKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reader := kmsCodec(t, srv, tt.keys)
			dec, err := reader.Decrypt(ctx, enc)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt error = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !bytes.Equal(dec, kmsDoc) {
				t.Errorf("round trip mismatch: %s", dec)
			}
			if err != nil {
				assertNoCanary(t, "error", err.Error())
			}
		})
	}
}

// TestKMSCallsAreCached: 10,000 field encryptions and decryptions in one
// process, under one context, make one GenerateDataKey and one Decrypt.
func TestKMSCallsAreCached(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	c := kmsCodec(t, srv, []string{srv.KeyARN("primary")})
	doc := []byte(`{"ssn":"` + canarySSN + `"}`)
	for i := 0; i < 10000; i++ {
		enc, err := c.Encrypt(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Decrypt(ctx, enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec, doc) {
			t.Fatal("round trip mismatch")
		}
	}
	if got := srv.Requests(""); got > 2 {
		t.Errorf("KMS requests for 10,000 encryptions and decryptions = %d, want at most 2", got)
	}
	t.Logf("KMS requests: GenerateDataKey %d, Decrypt %d", srv.Requests("GenerateDataKey"), srv.Requests("Decrypt"))
}

func TestKMSEncryptionContextMismatch(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	enc, err := kmsCodec(t, srv, []string{srv.KeyARN("primary")}).Encrypt(ctx, kmsDoc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`{"encryptionContext":{"app":"someone-else"},
		"keyrings":{"main":{"kms":{"keyArn":%q}}},"rules":[{"class":"identity","keyring":"main","select":["$.x"]}]}`, srv.KeyARN("primary"))))
	if err != nil {
		t.Fatal(err)
	}
	reader, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(srv.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = reader.Decrypt(ctx, enc)
	if !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("Decrypt error = %v, want ErrInvalidKey", err)
	}
	assertNoCanary(t, "error", err.Error())
}

// The faults below are injected by the kmstest proxy: fault injection is the
// only use of a stand-in for KMS in these tests.
func TestKMSFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		fault  kmstest.Fault
		stop   bool
		encErr error // from Encrypt with a cold cache
		decErr error // from Decrypt of a token made before the fault, cold cache
	}{
		{name: "access denied", fault: kmstest.Fault{Kind: kmstest.AccessDenied}, encErr: envelope.ErrDenied, decErr: envelope.ErrDenied},
		{name: "throttled", fault: kmstest.Fault{Kind: kmstest.Throttle}, encErr: envelope.ErrUnavailable, decErr: envelope.ErrUnavailable},
		{name: "service unavailable", fault: kmstest.Fault{Kind: kmstest.Unavailable}, encErr: envelope.ErrUnavailable, decErr: envelope.ErrUnavailable},
		{name: "connection dropped", fault: kmstest.Fault{Kind: kmstest.Disconnect}, encErr: envelope.ErrUnavailable, decErr: envelope.ErrUnavailable},
		{name: "slow past the deadline", fault: kmstest.Fault{Kind: kmstest.Delay, Delay: 2 * time.Second}, encErr: envelope.ErrUnavailable, decErr: envelope.ErrUnavailable},
		{name: "wrong key length", fault: kmstest.Fault{Kind: kmstest.WrongKeyLength}, encErr: envelope.ErrInvalidKey, decErr: envelope.ErrInvalidKey},
		{name: "KMS down", stop: true, encErr: envelope.ErrUnavailable, decErr: envelope.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := kmstest.Start(t)
			keys := []string{srv.KeyARN("primary")}
			// A warm codec: its cached keys must keep working through the fault.
			warm := kmsCodec(t, srv, keys)
			before, err := warm.Encrypt(ctx, kmsDoc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := warm.Decrypt(ctx, before); err != nil {
				t.Fatal(err)
			}
			if tt.stop {
				srv.Stop()
			} else {
				srv.Inject(tt.fault)
			}
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()

			if got, err := warm.Encrypt(ctx, kmsDoc); err != nil {
				t.Errorf("warm Encrypt during the fault: %v", err)
			} else if _, err := warm.Decrypt(ctx, got); err != nil {
				t.Errorf("warm Decrypt during the fault: %v", err)
			}

			cold := kmsCodec(t, srv, keys)
			out, err := cold.Encrypt(ctx, kmsDoc)
			if out != nil || !errors.Is(err, tt.encErr) {
				t.Errorf("cold Encrypt = %q, %v; want no output and %v", out, err, tt.encErr)
			}
			if err != nil {
				assertNoCanary(t, "Encrypt error", err.Error())
			}
			out, err = kmsCodec(t, srv, keys).Decrypt(ctx, before)
			if out != nil || !errors.Is(err, tt.decErr) {
				t.Errorf("cold Decrypt = %q, %v; want no output and %v", out, err, tt.decErr)
			}
			if err != nil {
				assertNoCanary(t, "Decrypt error", err.Error())
			}
		})
	}
}

// TestConcurrentUse shares one codec among 64 goroutines while cached keys
// expire, under -race.
func TestConcurrentUse(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	short := CacheLimits{MaxAge: 20 * time.Millisecond}
	c := kmsCodec(t, srv, []string{srv.KeyARN("primary")}, WithCacheLimits(short, short))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				enc, err := c.Encrypt(ctx, kmsDoc)
				if err != nil {
					errs <- err
					return
				}
				dec, err := c.Decrypt(ctx, enc)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(dec, kmsDoc) {
					errs <- errors.New("round trip mismatch")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := c.Stats()
	t.Logf("stats %+v; KMS GenerateDataKey %d Decrypt %d", st, srv.Requests("GenerateDataKey"), srv.Requests("Decrypt"))
	if st.Encrypt.KeyringCalls < 2 {
		t.Errorf("no cached key expired during the run (keyring calls %d)", st.Encrypt.KeyringCalls)
	}
}

// TestRefusalsAreRemembered: a reader that KMS refuses for a class makes
// one Decrypt for 200 tokens under one data key (envelope mode) or of one
// keyset (keyset mode), not one per token; a throttle is retried per token.
func TestRefusalsAreRemembered(t *testing.T) {
	ctx := context.Background()
	doc := func(t *testing.T, c *Codec) []byte {
		t.Helper()
		var b strings.Builder
		b.WriteString(`{"people":[`)
		for i := range 200 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"ssn":"%s-%d"}`, canarySSN, i)
		}
		b.WriteString(`]}`)
		enc, err := c.Encrypt(ctx, []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	type mode struct {
		name   string
		writer func(t *testing.T) (*Codec, *kmstest.Server, func(opts ...Option) *Codec)
	}
	modes := []mode{
		{"envelope", func(t *testing.T) (*Codec, *kmstest.Server, func(opts ...Option) *Codec) {
			srv := kmstest.Start(t)
			keys := []string{srv.KeyARN("primary")}
			return kmsCodec(t, srv, keys), srv, func(opts ...Option) *Codec { return kmsCodec(t, srv, keys, opts...) }
		}},
		{"keyset", func(t *testing.T) (*Codec, *kmstest.Server, func(opts ...Option) *Codec) {
			f := newKeysetFixture(t)
			return f.codec(t), f.srv, func(opts ...Option) *Codec { return f.codec(t, opts...) }
		}},
	}
	for _, m := range modes {
		for _, tc := range []struct {
			fault kmstest.FaultKind
			limit CacheLimits
			want  int
		}{
			{kmstest.AccessDenied, CacheLimits{}, 1},
			{kmstest.AccessDenied, CacheLimits{FailureAge: ForProcess}, 1},
			{kmstest.Throttle, CacheLimits{}, 200},
		} {
			t.Run(fmt.Sprintf("%s/%s/%v", m.name, tc.fault, tc.limit.FailureAge), func(t *testing.T) {
				writer, srv, reader := m.writer(t)
				enc := doc(t, writer)
				r := reader(WithCacheLimits(CacheLimits{}, tc.limit))
				// Fault injection: KMS refuses (or throttles) every Decrypt.
				srv.Inject(kmstest.Fault{Op: "Decrypt", Kind: tc.fault})
				defer srv.ClearFaults()
				srv.ResetCounts()
				out, failed, err := r.DecryptPartial(ctx, enc)
				if err != nil {
					t.Fatal(err)
				}
				if len(failed) != 200 {
					t.Errorf("%d tokens failed, want 200", len(failed))
				}
				assertNoCanary(t, "output", string(out))
				if n := srv.Requests("Decrypt"); n != tc.want {
					t.Errorf("%d KMS Decrypt requests for 200 tokens, want %d", n, tc.want)
				}
			})
		}
	}
}
