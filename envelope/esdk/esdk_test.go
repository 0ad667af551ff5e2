package esdk

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mplclient "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygenerated"
	mpltypes "github.com/aws/aws-cryptographic-material-providers-library/releases/go/mpl/awscryptographymaterialproviderssmithygeneratedtypes"
	esdkclient "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygenerated"
	esdktypes "github.com/aws/aws-encryption-sdk/releases/go/encryption-sdk/awscryptographyencryptionsdksmithygeneratedtypes"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// canary is a plaintext that must never appear in an error message.
const canary = "CANARY-5b1e2f-plaintext"

var testCtx = map[string]string{"tenant": "acme", "class": "contact"}

// newSealer returns a Sealer for keys of srv, a real local-kms on loopback.
func newSealer(t testing.TB, srv *kmstest.Server, arns ...string) *Sealer {
	t.Helper()
	s, err := New(srv.Config(t), arns)
	if err != nil {
		t.Fatalf("New(%v): %v", arns, err)
	}
	return s
}

func mustEncrypt(t testing.TB, s *Sealer, plaintext []byte) []byte {
	t.Helper()
	msg, err := s.Encrypt(context.Background(), plaintext, testCtx)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return msg
}

// checkNoCanary fails the test if err's message holds the canary plaintext.
func checkNoCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error message holds the plaintext: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	s := newSealer(t, srv, primary, breakglass)
	tests := []struct {
		name      string
		plaintext []byte
		encCtx    map[string]string
	}{
		{"short", []byte(`"alice@example.com"`), testCtx},
		{"empty plaintext", []byte{}, testCtx},
		{"empty context", []byte(canary), nil},
		{"unicode context", []byte(canary), map[string]string{"clé": "värde", "k": ""}},
		{"several frames", bytes.Repeat([]byte(canary), 1000), testCtx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetCounts()
			msg, err := s.Encrypt(context.Background(), tt.plaintext, tt.encCtx)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if bytes.Contains(msg, []byte(canary)) {
				t.Fatal("message holds the plaintext")
			}
			h, err := parseHeader(msg, DefaultMaxEncryptedDataKeys)
			if err != nil {
				t.Fatalf("parseHeader: %v", err)
			}
			want := tt.encCtx
			if want == nil {
				want = map[string]string{}
			}
			if diff := cmp.Diff(want, h.context); diff != "" {
				t.Errorf("header context mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]edk{{"aws-kms", primary}, {"aws-kms", breakglass}}, h.edks, cmp.AllowUnexported(edk{})); diff != "" {
				t.Errorf("header keys mismatch (-want +got):\n%s", diff)
			}
			got, err := s.Decrypt(context.Background(), msg, tt.encCtx)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if diff := cmp.Diff(tt.plaintext, got); diff != "" {
				t.Errorf("plaintext mismatch (-want +got):\n%s", diff)
			}
			// One KMS request per key to encrypt, one to decrypt (the
			// primary's wrapped key comes first and succeeds).
			requests := map[string]int{
				"GenerateDataKey": srv.Requests("GenerateDataKey"),
				"Encrypt":         srv.Requests("Encrypt"),
				"Decrypt":         srv.Requests("Decrypt"),
			}
			if diff := cmp.Diff(map[string]int{"GenerateDataKey": 1, "Encrypt": 1, "Decrypt": 1}, requests); diff != "" {
				t.Errorf("KMS requests mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRefusesKeyIdentifiers(t *testing.T) {
	srv := kmstest.Start(t)
	primary := srv.KeyARN("primary")
	tests := []struct {
		name string
		arns []string
	}{
		{"none", nil},
		{"alias name", []string{"alias/sfnenc-primary"}},
		{"alias ARN", []string{srv.AliasARN("primary")}},
		{"alias ARN as break-glass key", []string{primary, srv.AliasARN("breakglass")}},
		{"bare key ID", []string{primary[strings.LastIndex(primary, "/")+1:]}},
		{"not kms", []string{strings.Replace(primary, ":kms:", ":s3:", 1)}},
		{"short account", []string{strings.Replace(primary, ":111122223333:", ":1111:", 1)}},
		{"trailing space", []string{primary + " "}},
		{"duplicate", []string{primary, primary}},
	}
	cfg := srv.Config(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(cfg, tt.arns)
			if !errors.Is(err, ErrInvalidKeyARN) {
				t.Fatalf("New(%q) = %v, want ErrInvalidKeyARN", tt.arns, err)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	tests := []struct {
		name    string
		arns    []string
		opts    []Option
		wantErr bool
	}{
		{"default", []string{primary}, nil, false},
		{"maximum 1", []string{primary}, []Option{WithMaxEncryptedDataKeys(1)}, false},
		{"zero maximum", []string{primary}, []Option{WithMaxEncryptedDataKeys(0)}, true},
		{"too large maximum", []string{primary}, []Option{WithMaxEncryptedDataKeys(1 << 16)}, true},
		{"more keys than maximum", []string{primary, breakglass}, []Option{WithMaxEncryptedDataKeys(1)}, true},
	}
	cfg := srv.Config(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(cfg, tt.arns, tt.opts...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestDecryptRefuses covers messages refused by their header: none of them
// may cost a KMS request.
func TestDecryptRefuses(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	sA := newSealer(t, srv, primary)
	sB := newSealer(t, srv, breakglass)
	msgA := mustEncrypt(t, sA, []byte(canary))
	msgAB := mustEncrypt(t, newSealer(t, srv, primary, breakglass), []byte(canary))
	signed := encryptWithSuite(t, srv, primary, mpltypes.ESDKAlgorithmSuiteIdAlgAes256GcmHkdfSha512CommitKeyEcdsaP384)
	sA1, err := New(srv.Config(t), []string{primary}, WithMaxEncryptedDataKeys(1))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		s       *Sealer
		msg     []byte
		encCtx  map[string]string
		wantErr error
	}{
		{"other value", sA, msgA, map[string]string{"tenant": "other", "class": "contact"}, ErrContextMismatch},
		{"missing key", sA, msgA, map[string]string{"tenant": "acme"}, ErrContextMismatch},
		{"extra key", sA, msgA, map[string]string{"tenant": "acme", "class": "contact", "x": "y"}, ErrContextMismatch},
		{"empty context", sA, msgA, nil, ErrContextMismatch},
		{"made for another key", sB, msgA, testCtx, ErrNoMatchingKey},
		{"signed suite 0x0578", sA, signed, testCtx, ErrUnsupportedMessage},
		{"more data keys than allowed", sA1, msgAB, testCtx, ErrUnsupportedMessage},
		{"empty", sA, nil, testCtx, ErrUnsupportedMessage},
		{"truncated header", sA, msgA[:40], testCtx, ErrUnsupportedMessage},
		{"not a message", sA, []byte(`{"json":true}`), testCtx, ErrUnsupportedMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetCounts()
			got, err := tt.s.Decrypt(context.Background(), tt.msg, tt.encCtx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Decrypt returned plaintext with an error")
			}
			checkNoCanary(t, err)
			if n := srv.Requests(""); n != 0 {
				t.Errorf("%d KMS requests, want 0", n)
			}
		})
	}
}

// TestDecryptFails covers messages that pass the header checks and fail
// inside the ESDK.
func TestDecryptFails(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	sA := newSealer(t, srv, primary)
	sB := newSealer(t, srv, breakglass)
	msgA := mustEncrypt(t, sA, []byte(canary))
	tests := []struct {
		name    string
		s       *Sealer
		msg     []byte
		wantErr error
	}{
		// The wrapped key is primary's, the header claims breakglass:
		// KMS refuses it.
		{"header names another key", sB, withEDKInfo(t, msgA, breakglass), ErrNoMatchingKey},
		{"truncated body", sA, msgA[:len(msgA)-1], ErrAuthentication},
		{"flipped tag", sA, flip(msgA, len(msgA)-1), ErrAuthentication},
		{"flipped message ID", sA, flip(msgA, 3), ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Decrypt(context.Background(), tt.msg, testCtx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Decrypt returned plaintext with an error")
			}
			checkNoCanary(t, err)
			t.Logf("error: %v", err)
		})
	}
}

// TestBreakGlass: a message for a primary and a break-glass key decrypts with
// a sealer that holds only the break-glass key, or only the primary.
func TestBreakGlass(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	msg := mustEncrypt(t, newSealer(t, srv, primary, breakglass), []byte(canary))
	for _, name := range []string{"primary", "breakglass"} {
		t.Run(name, func(t *testing.T) {
			got, err := newSealer(t, srv, srv.KeyARN(name)).Decrypt(context.Background(), msg, testCtx)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if diff := cmp.Diff([]byte(canary), got); diff != "" {
				t.Errorf("plaintext mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("neither key", func(t *testing.T) {
		_, err := newSealer(t, srv, srv.KeyARN("other")).Decrypt(context.Background(), msg, testCtx)
		if !errors.Is(err, ErrNoMatchingKey) {
			t.Fatalf("Decrypt: %v, want ErrNoMatchingKey", err)
		}
	})
}

// TestBreakGlassCannotForge plays a holder of kms:Encrypt on the break-glass
// key: they make a message of their choosing under that key alone. A reader
// configured with the primary and the break-glass key refuses it before any
// KMS request, and so it does when the primary key is disabled: it never
// reads through the break-glass key. Only the break-glass procedure's reader
// (configured with the break-glass key alone) opens it.
func TestBreakGlassCannotForge(t *testing.T) {
	srv := kmstest.Start(t)
	primary, breakglass := srv.KeyARN("primary"), srv.KeyARN("breakglass")
	forged := mustEncrypt(t, newSealer(t, srv, breakglass), []byte(`"forged"`))
	reader := newSealer(t, srv, primary, breakglass)
	srv.ResetCounts()
	if got, err := reader.Decrypt(context.Background(), forged, testCtx); !errors.Is(err, ErrNoMatchingKey) {
		t.Fatalf("primary + break-glass reader: %q, %v; want ErrNoMatchingKey", got, err)
	}
	if n := srv.Requests(""); n != 0 {
		t.Errorf("%d KMS requests, want 0", n)
	}
	// A genuine message while the primary key is disabled fails too: no
	// fallback to the break-glass key's data key.
	genuine := mustEncrypt(t, reader, []byte(canary))
	if _, err := kms.NewFromConfig(srv.Config(t)).DisableKey(context.Background(), &kms.DisableKeyInput{KeyId: aws.String(primary)}); err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Decrypt(context.Background(), genuine, testCtx); err == nil {
		t.Fatalf("primary key disabled: the reader fell back to the break-glass key (%d bytes)", len(got))
	}
	if got, err := newSealer(t, srv, breakglass).Decrypt(context.Background(), forged, testCtx); err != nil || string(got) != `"forged"` {
		t.Errorf("break-glass procedure reader: %q, %v", got, err)
	}
}

// TestTampered flips each byte of a message in turn: every variant must fail
// with one of the package's errors and return no plaintext.
func TestTampered(t *testing.T) {
	srv := kmstest.Start(t)
	s := newSealer(t, srv, srv.KeyARN("primary"))
	msg := mustEncrypt(t, s, []byte(canary))
	counts := map[string]int{}
	for i := range msg {
		got, err := s.Decrypt(context.Background(), flip(msg, i), testCtx)
		if err == nil {
			t.Fatalf("byte %d flipped: Decrypt succeeded", i)
		}
		if got != nil {
			t.Fatalf("byte %d flipped: plaintext returned with an error", i)
		}
		checkNoCanary(t, err)
		found := false
		for _, sentinel := range []error{ErrUnsupportedMessage, ErrContextMismatch, ErrNoMatchingKey, ErrAuthentication} {
			if errors.Is(err, sentinel) {
				counts[sentinel.Error()]++
				found = true
			}
		}
		if !found {
			t.Fatalf("byte %d flipped: unexpected error %v", i, err)
		}
	}
	t.Logf("%d-byte message, failures by kind: %v", len(msg), counts)
}

// TestKMSFaults uses kmstest's fault injection (the only fake in these
// tests) for failures local-kms cannot produce.
func TestKMSFaults(t *testing.T) {
	tests := []struct {
		name     string
		op       string // "encrypt" or "decrypt"
		fault    kmstest.Fault
		stop     bool
		wantErr  error
		wantCode string // KMS error code reachable with errors.As, if any
	}{
		{"throttled encrypt", "encrypt", kmstest.Fault{Kind: kmstest.Throttle}, false, ErrKMS, "ThrottlingException"},
		{"throttled decrypt", "decrypt", kmstest.Fault{Kind: kmstest.Throttle}, false, ErrKMS, "ThrottlingException"},
		{"unavailable", "decrypt", kmstest.Fault{Kind: kmstest.Unavailable}, false, ErrKMS, "ServiceUnavailableException"},
		{"disconnect", "decrypt", kmstest.Fault{Kind: kmstest.Disconnect}, false, ErrKMS, ""},
		{"access denied on decrypt", "decrypt", kmstest.Fault{Kind: kmstest.AccessDenied}, false, ErrNoMatchingKey, "AccessDeniedException"},
		{"access denied on encrypt", "encrypt", kmstest.Fault{Kind: kmstest.AccessDenied}, false, ErrKMS, "AccessDeniedException"},
		{"wrong data key length", "decrypt", kmstest.Fault{Kind: kmstest.WrongKeyLength}, false, ErrKMS, ""},
		{"wrong data key length on encrypt", "encrypt", kmstest.Fault{Kind: kmstest.WrongKeyLength}, false, ErrKMS, ""},
		{"KMS down", "decrypt", kmstest.Fault{}, true, ErrKMS, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := kmstest.Start(t)
			cfg := srv.Config(t, config.WithRetryMaxAttempts(1))
			s, err := New(cfg, []string{srv.KeyARN("primary")})
			if err != nil {
				t.Fatal(err)
			}
			msg := mustEncrypt(t, s, []byte(canary))
			if tt.stop {
				srv.Stop()
			} else {
				srv.Inject(tt.fault)
			}
			var got []byte
			if tt.op == "encrypt" {
				got, err = s.Encrypt(context.Background(), []byte(canary), testCtx)
			} else {
				got, err = s.Decrypt(context.Background(), msg, testCtx)
			}
			if err == nil || got != nil {
				t.Fatalf("%s = %d bytes, %v; want an error", tt.op, len(got), err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("%s: %v, want %v", tt.op, err, tt.wantErr)
			}
			if tt.wantCode != "" {
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
					t.Errorf("%s: %v holds no KMS error %s", tt.op, err, tt.wantCode)
				}
			}
			checkNoCanary(t, err)
			t.Logf("error: %v", err)
		})
	}
}

func TestUnknownKey(t *testing.T) {
	srv := kmstest.Start(t)
	unknown := strings.Replace(srv.KeyARN("primary"), "key/347f55c5", "key/00000000", 1)
	s := newSealer(t, srv, unknown)
	_, err := s.Encrypt(context.Background(), []byte(canary), testCtx)
	if !errors.Is(err, ErrKMS) {
		t.Fatalf("Encrypt: %v, want ErrKMS", err)
	}
	var notFound *kmstypes.NotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("Encrypt: %v holds no NotFoundException", err)
	}
	checkNoCanary(t, err)
}

func TestInvalidContext(t *testing.T) {
	srv := kmstest.Start(t)
	s := newSealer(t, srv, srv.KeyARN("primary"))
	tests := []struct {
		name   string
		encCtx map[string]string
	}{
		{"empty key", map[string]string{"": "v"}},
		{"key not UTF-8", map[string]string{"\xff": "v"}},
		{"value not UTF-8", map[string]string{"k": "\xff" + canary}},
		{"reserved prefix", map[string]string{"aws-crypto-public-key": "v"}},
		{"too large", map[string]string{"k": strings.Repeat("v", 65530)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Encrypt(context.Background(), []byte(canary), tt.encCtx)
			if !errors.Is(err, ErrInvalidContext) {
				t.Fatalf("Encrypt: %v, want ErrInvalidContext", err)
			}
			checkNoCanary(t, err)
			_, err = s.Decrypt(context.Background(), []byte{2}, tt.encCtx)
			if !errors.Is(err, ErrInvalidContext) {
				t.Fatalf("Decrypt: %v, want ErrInvalidContext", err)
			}
		})
	}
}

func TestContextEnds(t *testing.T) {
	srv := kmstest.Start(t)
	s := newSealer(t, srv, srv.KeyARN("primary"))
	msg := mustEncrypt(t, s, []byte(canary))

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		srv.ResetCounts()
		if _, err := s.Encrypt(ctx, []byte(canary), testCtx); !errors.Is(err, context.Canceled) {
			t.Errorf("Encrypt: %v, want context.Canceled", err)
		}
		if _, err := s.Decrypt(ctx, msg, testCtx); !errors.Is(err, context.Canceled) {
			t.Errorf("Decrypt: %v, want context.Canceled", err)
		}
		if n := srv.Requests(""); n != 0 {
			t.Errorf("%d KMS requests, want 0", n)
		}
	})
	t.Run("live deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := s.Decrypt(ctx, msg, testCtx)
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if diff := cmp.Diff([]byte(canary), got); diff != "" {
			t.Errorf("plaintext mismatch (-want +got):\n%s", diff)
		}
	})
	// Last: the KMS request held here keeps the ESDK's turn until the
	// server closes at the end of the test.
	t.Run("deadline during KMS request", func(t *testing.T) {
		srv.Inject(kmstest.Fault{Kind: kmstest.Delay, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.Decrypt(ctx, msg, testCtx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Decrypt: %v, want context.DeadlineExceeded", err)
		}
		// The next call waits for the turn, and gives up with its context.
		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := s.Encrypt(ctx, []byte(canary), testCtx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Encrypt: %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestConcurrent(t *testing.T) {
	srv := kmstest.Start(t)
	s := newSealer(t, srv, srv.KeyARN("primary"), srv.KeyARN("breakglass"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				pt := []byte(strings.Repeat("p", g*10+i))
				msg, err := s.Encrypt(context.Background(), pt, testCtx)
				if err != nil {
					errs <- err
					return
				}
				got, err := s.Decrypt(context.Background(), msg, testCtx)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(pt, got) {
					errs <- errors.New("plaintext mismatch")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// encryptWithSuite makes a message for keyARN with the given algorithm suite
// through the ESDK directly, as another writer could.
func encryptWithSuite(t testing.TB, srv *kmstest.Server, keyARN string, suite mpltypes.ESDKAlgorithmSuiteId) []byte {
	t.Helper()
	mpl, err := mplclient.NewClient(mpltypes.MaterialProvidersConfig{})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := mpl.CreateAwsKmsKeyring(context.Background(), mpltypes.CreateAwsKmsKeyringInput{
		KmsClient: kms.NewFromConfig(srv.Config(t)),
		KmsKeyId:  keyARN,
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := mpltypes.ESDKCommitmentPolicyRequireEncryptAllowDecrypt
	c, err := esdkclient.NewClient(esdktypes.AwsEncryptionSdkConfig{CommitmentPolicy: &policy})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encrypt(context.Background(), esdktypes.EncryptInput{
		Plaintext:         []byte(canary),
		AlgorithmSuiteId:  &suite,
		EncryptionContext: testCtx,
		Keyring:           kr,
	})
	if err != nil {
		t.Fatalf("Encrypt with suite %s: %v", suite, err)
	}
	return out.Ciphertext
}

// withEDKInfo returns msg with the key ARN of its only encrypted data key
// replaced by arn (of the same length, as all test key ARNs are).
func withEDKInfo(t testing.TB, msg []byte, arn string) []byte {
	t.Helper()
	h, err := parseHeader(msg, DefaultMaxEncryptedDataKeys)
	if err != nil || len(h.edks) != 1 || len(h.edks[0].providerInfo) != len(arn) {
		t.Fatalf("withEDKInfo: unexpected message (%v)", err)
	}
	i := bytes.Index(msg, []byte(h.edks[0].providerInfo))
	out := bytes.Clone(msg)
	copy(out[i:], arn)
	return out
}

// flip returns a copy of msg with the lowest bit of byte i inverted.
func flip(msg []byte, i int) []byte {
	out := bytes.Clone(msg)
	out[i] ^= 0x01
	return out
}

// TestAbandonedCallOwnsItsInputs gives up on calls while their KMS request
// is held (an injected delay), then clears and reuses the inputs at once, as
// the codec does. The abandoned call must not read them afterwards: under
// -race, a call working on the caller's buffers is reported as a data race,
// and without -race it would seal or open cleared bytes.
func TestAbandonedCallOwnsItsInputs(t *testing.T) {
	srv := kmstest.Start(t)
	s := newSealer(t, srv, srv.KeyARN("primary"))
	msg := mustEncrypt(t, s, []byte(canary))
	const hold = 300 * time.Millisecond

	waitTurn := func() {
		t.Helper()
		// The next call gets the turn only when the abandoned one returned.
		if _, err := s.Decrypt(context.Background(), mustEncrypt(t, s, []byte("x")), testCtx); err != nil {
			t.Fatalf("Decrypt after the abandoned call: %v", err)
		}
	}
	for _, tc := range []struct {
		op  string
		run func(ctx context.Context, buf []byte, ec map[string]string) error
		buf []byte
	}{
		{"GenerateDataKey", func(ctx context.Context, buf []byte, ec map[string]string) error {
			_, err := s.Encrypt(ctx, buf, ec)
			return err
		}, []byte(canary)},
		{"Decrypt", func(ctx context.Context, buf []byte, ec map[string]string) error {
			_, err := s.Decrypt(ctx, buf, ec)
			return err
		}, msg},
	} {
		t.Run(tc.op, func(t *testing.T) {
			srv.Inject(kmstest.Fault{Op: tc.op, Kind: kmstest.Delay, Delay: hold, Count: 1})
			defer srv.ClearFaults()
			buf := bytes.Clone(tc.buf)
			ec := map[string]string{}
			for k, v := range testCtx {
				ec[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := tc.run(ctx, buf, ec); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%v, want context.DeadlineExceeded", err)
			}
			// What the caller does next with its own memory.
			clear(buf)
			copy(buf, "reused by the caller")
			clear(ec)
			ec["tenant"] = "other"
			waitTurn()
		})
	}
}

// TestNoCredentials: without AWS credentials the request never leaves, and
// the error says so (a configuration problem), not that KMS failed.
func TestNoCredentials(t *testing.T) {
	srv := kmstest.Start(t)
	cfg := srv.Config(t)
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no credentials in this test")
	})
	s, err := New(cfg, []string{srv.KeyARN("primary")})
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	_, err = s.Encrypt(context.Background(), []byte(canary), testCtx)
	if !errors.Is(err, ErrNoCredentials) || !errors.Is(err, envelope.ErrNoCredentials) || errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("Encrypt: %v, want ErrNoCredentials alone", err)
	}
	if n := srv.Requests(""); n != 0 {
		t.Errorf("%d KMS requests without credentials", n)
	}
	checkNoCanary(t, err)
}
