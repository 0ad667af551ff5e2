package codec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

// keysetFixture is a directory of keysets for the classes identity, contact
// and payment under the kmstest key "primary", and a configuration whose
// rules use them (keyset mode).
type keysetFixture struct {
	srv   *kmstest.Server
	dir   string
	cfg   *Config
	store *keyset.Store // the operator's
}

func newKeysetFixture(t *testing.T) *keysetFixture {
	t.Helper()
	srv := kmstest.Start(t)
	dir := t.TempDir()
	js := fmt.Sprintf(`{"encryptionContext":{"app":"kms-test"},
		"keyrings":{"ks":{"kmsKeyset":{"keyArn":%q,"dir":%q}}},
		"rules":[{"class":"identity","keyring":"ks","select":["$..ssn"]},
		         {"class":"contact","keyring":"ks","select":["$..phone"]},
		         {"class":"payment","keyring":"ks","select":["$..card"]}]}`, srv.KeyARN("primary"), filepath.Join(dir, "keysets"))
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	f := &keysetFixture{srv: srv, dir: filepath.Join(dir, "keysets"), cfg: cfg}
	f.store, err = keyset.NewStore(f.dir, envelope.KMSClients(srv.Config(t)), srv.KeyARN("primary"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Classes() {
		if err := f.store.Create(context.Background(), c, cfg.EncryptionContext); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCounts()
	return f
}

// codec returns a new codec, as a new process would build it.
func (f *keysetFixture) codec(t *testing.T, opts ...Option) *Codec {
	t.Helper()
	ac := f.srv.Config(t, config.WithRetryMaxAttempts(1))
	c, err := New(context.Background(), f.cfg, append([]Option{WithKMSClients(envelope.KMSClients(ac))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKeysetMode(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	writer := f.codec(t)
	if got := f.srv.Requests(""); got != 0 {
		t.Errorf("New made %d KMS requests, want 0", got)
	}
	enc, err := writer.Encrypt(ctx, kmsDoc)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "encrypted document", string(enc))
	for _, tok := range tokenRE.FindAll(enc, -1) {
		body, err := format.Decode(tok[1:len(tok)-1], nil)
		if err != nil || body.Mode != format.ModeKeyset || body.KeyID != 1 {
			t.Errorf("token %.20s...: %+v, %v", tok, body, err)
		}
	}
	// Two classes written: one keyset Decrypt each, nothing else.
	if got, want := countsOf(f.srv), (kmsCount{decrypt: 2}); got != want {
		t.Errorf("first Encrypt: %+v, want %+v", got, want)
	}
	for range 1000 {
		if _, err := writer.Encrypt(ctx, kmsDoc); err != nil {
			t.Fatal(err)
		}
	}
	reader := f.codec(t)
	for range 1000 {
		got, err := reader.Decrypt(ctx, enc)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(kmsDoc) {
			t.Fatalf("Decrypt = %s", got)
		}
	}
	if got, want := countsOf(f.srv), (kmsCount{decrypt: 4}); got != want {
		t.Errorf("1,001 Encrypts in one process and 1,000 Decrypts in another: %+v, want %+v (one Decrypt per class per process)", got, want)
	}

	// EncryptValue, and idempotence.
	tok, err := writer.EncryptValue(ctx, "payment", []byte(`"4111"`))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"card":"` + tok + `"}`)
	if again, err := writer.Encrypt(ctx, doc); err != nil || string(again) != string(doc) {
		t.Errorf("Encrypt of an encrypted document changed it: %v", err)
	}
	if got, err := reader.Decrypt(ctx, doc); err != nil || string(got) != `{"card":"4111"}` {
		t.Errorf("Decrypt(EncryptValue) = %s, %v", got, err)
	}
}

// TestKeysetTokenSize: a 20-byte value of class identity is at most 100
// characters of token text (SECURITY.md, README).
func TestKeysetTokenSize(t *testing.T) {
	f := newKeysetFixture(t)
	value := `"0123456789abcdefgh"`
	enc, err := f.codec(t).Encrypt(context.Background(), []byte(`{"ssn":`+value+`}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokenRE.Find(enc)
	text := len(tok) - 2
	if want := format.TextLen(3 + len("identity") + 2 + format.KeysetOverhead + len(value)); text != want || text > 100 {
		t.Errorf("token text is %d characters, want %d and at most 100", text, want)
	}
	t.Logf("keyset mode: 20-byte value -> %d-character token (%d bytes in JSON, +%d)", text, len(tok), len(tok)-len(value))
}

// TestKeysetLoadsOnlyUsedClasses: a process decrypts the keysets of the
// classes it writes or reads, and no other.
func TestKeysetLoadsOnlyUsedClasses(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	enc, err := f.codec(t).Encrypt(ctx, []byte(`{"ssn":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.srv.Requests("Decrypt"); got != 1 {
		t.Errorf("writing one class: %d keyset Decrypts, want 1", got)
	}
	f.srv.ResetCounts()
	both, err := f.codec(t).Encrypt(ctx, []byte(`{"ssn":"1","phone":"2"}`))
	if err != nil {
		t.Fatal(err)
	}
	f.srv.ResetCounts()
	// A function that decrypts only contact, given identity and contact.
	c := f.codec(t, WithClasses("contact"))
	if _, err := c.Decrypt(ctx, both); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, enc); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.Requests(""); got != 1 {
		t.Errorf("reading contact only: %d KMS requests, want 1", got)
	}
}

// TestKeysetConcurrentFirstUse: many goroutines of one fresh codec that
// write and read at once make one keyset Decrypt per class (run with -race).
func TestKeysetConcurrentFirstUse(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	c := f.codec(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			<-start
			enc, err := c.Encrypt(ctx, kmsDoc)
			if err == nil {
				_, err = c.Decrypt(ctx, enc)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.srv.Requests(""); got != 2 {
		t.Errorf("64 concurrent first uses of 2 classes: %d KMS requests, want 2", got)
	}
}

// TestKeysetRotationAndDestruction plays a rotation with redeploys and a
// destruction, as processes built before and after see them.
func TestKeysetRotationAndDestruction(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	ec := f.cfg.EncryptionContext
	old := f.codec(t)
	tok1, err := old.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Decrypt(ctx, tok1); err != nil {
		t.Fatal(err)
	}

	// A one-step rotate: a process of the new file writes key 2, which a
	// process still running with the old file cannot read.
	if _, err := f.store.Rotate(ctx, "identity", ec); err != nil {
		t.Fatal(err)
	}
	fresh := f.codec(t)
	tok2, err := fresh.Encrypt(ctx, []byte(`{"ssn":"`+canarySSN+`2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Decrypt(ctx, tok1); err != nil {
		t.Errorf("new process reading a key-1 token: %v", err)
	}
	_, err = old.Decrypt(ctx, tok2)
	var te *TokenError
	if !errors.Is(err, keyset.ErrNoSuchKey) || !errors.As(err, &te) || te.Pointer != "/ssn" {
		t.Errorf("old process reading a key-2 token: %v, want ErrNoSuchKey at /ssn", err)
	}
	assertNoCanary(t, "error", fmt.Sprint(err))

	// Staged: every process built after Stage reads the staged key.
	if _, err := f.store.Stage(ctx, "identity", ec); err != nil {
		t.Fatal(err)
	}
	staged := f.codec(t)
	if _, err := f.store.Rotate(ctx, "identity", ec); err != nil {
		t.Fatal(err)
	}
	tok3, err := f.codec(t).Encrypt(ctx, []byte(`{"ssn":"3"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staged.Decrypt(ctx, tok3); err != nil {
		t.Errorf("a process of the staged file reading a key-3 token: %v", err)
	}

	// Destroy key 1: processes of the new file report its tokens as made
	// with a destroyed key, and read the others.
	if err := f.store.Destroy(ctx, "identity", ec, 1); err != nil {
		t.Fatal(err)
	}
	after := f.codec(t)
	out, err := after.Decrypt(ctx, tok1)
	if out != nil || !errors.Is(err, keyset.ErrDestroyed) || !errors.As(err, &te) || te.Class != "identity" {
		t.Errorf("token of a destroyed key: %s, %v; want ErrDestroyed", out, err)
	}
	assertNoCanary(t, "error", fmt.Sprint(err))
	if _, err := after.Decrypt(ctx, tok2); err != nil {
		t.Errorf("token of key 2 after key 1 was destroyed: %v", err)
	}
}

// TestKeysetBadFiles: a damaged or missing keyset file fails encryption and
// decryption with an error naming the file and the class, and no output.
func TestKeysetBadFiles(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	enc, err := f.codec(t).Encrypt(ctx, kmsDoc)
	if err != nil {
		t.Fatal(err)
	}
	path := f.store.Path("identity")
	if err := removeFile(path); err != nil {
		t.Fatal(err)
	}
	c := f.codec(t)
	for _, tt := range []struct {
		name string
		run  func() ([]byte, error)
	}{
		{"Encrypt", func() ([]byte, error) { return c.Encrypt(ctx, kmsDoc) }},
		{"Decrypt", func() ([]byte, error) { return c.Decrypt(ctx, enc) }},
	} {
		out, err := tt.run()
		if out != nil || err == nil {
			t.Errorf("%s with a missing keyset file: %s, %v", tt.name, out, err)
			continue
		}
		var ke *keyset.Error
		if !errors.As(err, &ke) || ke.Path != path || ke.Class != "identity" {
			t.Errorf("%s: error %v does not name %s and class identity", tt.name, err, path)
		}
		assertNoCanary(t, tt.name+" error", err.Error())
	}
}

// TestKeysetRuleReadsEnvelope: a class moved from envelope mode to keyset
// mode keeps reading its older envelope tokens through "read".
func TestKeysetRuleReadsEnvelope(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	old := kmsCodec(t, f.srv, []string{f.srv.KeyARN("primary")})
	envTok, err := old.Encrypt(ctx, []byte(`{"ssn":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	js := fmt.Sprintf(`{"encryptionContext":{"app":"kms-test"},
		"keyrings":{"ks":{"kmsKeyset":{"keyArn":%q,"dir":%q}},"main":{"kms":{"keyArn":%q}}},
		"rules":[{"class":"identity","keyring":"ks","select":["$..ssn"],"read":[{"keyring":"main"}]}]}`,
		f.srv.KeyARN("primary"), f.dir, f.srv.KeyARN("primary"))
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(f.srv.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decrypt(ctx, envTok); err != nil || string(got) != `{"ssn":"1"}` {
		t.Errorf("Decrypt of an envelope token: %s, %v", got, err)
	}
	// Encrypt leaves the envelope token (a token the rule reads) as it is.
	if again, err := c.Encrypt(ctx, envTok); err != nil || string(again) != string(envTok) {
		t.Errorf("Encrypt changed an envelope token the rule reads: %v", err)
	}
	ks, err := c.Encrypt(ctx, []byte(`{"ssn":"2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tok, _ := format.Decode(tokenRE.Find(ks)[1:len(tokenRE.Find(ks))-1], nil); tok == nil || tok.Mode != format.ModeKeyset {
		t.Errorf("new token is not of keyset mode")
	}
	// The envelope-only codec does not read keyset tokens of the class.
	if _, err := old.Decrypt(ctx, ks); !errors.Is(err, envelope.ErrNoKey) {
		t.Errorf("envelope codec reading a keyset token: %v, want ErrNoKey", err)
	}
}

// TestKeysetBinding: a keyset-mode token bound to a business key fails in a
// document of another application, and where the key is missing.
func TestKeysetBinding(t *testing.T) {
	f := newKeysetFixture(t)
	ctx := context.Background()
	js := fmt.Sprintf(`{"encryptionContext":{"app":"kms-test"},
		"keyrings":{"ks":{"kmsKeyset":{"keyArn":%q,"dir":%q}}},
		"rules":[{"class":"identity","keyring":"ks","select":["$..ssn"],"bind":"$.applicationId"}]}`, f.srv.KeyARN("primary"), f.dir)
	cfg, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, cfg, WithKMSClients(envelope.KMSClients(f.srv.Config(t))))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, []byte(`{"applicationId":"APP-1","ssn":"`+canarySSN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := string(tokenRE.Find(enc))
	if got, err := c.Decrypt(ctx, enc); err != nil || !strings.Contains(string(got), canarySSN) {
		t.Fatalf("Decrypt: %v", err)
	}
	moved := []byte(`{"applicationId":"APP-2","ssn":` + tok + `}`)
	if out, err := c.Decrypt(ctx, moved); out != nil || !errors.Is(err, ErrAuthentication) {
		t.Errorf("token moved to another application: %s, %v; want ErrAuthentication", out, err)
	}
	if out, err := c.Decrypt(ctx, []byte(`{"ssn":`+tok+`}`)); out != nil || !errors.Is(err, ErrBinding) {
		t.Errorf("document without the business key: %s, %v; want ErrBinding", out, err)
	}
}

// kmsCount is what reached local-kms, by operation.
type kmsCount struct{ generate, encrypt, decrypt, other int }

func countsOf(srv *kmstest.Server) kmsCount {
	c := kmsCount{generate: srv.Requests("GenerateDataKey"), encrypt: srv.Requests("Encrypt"), decrypt: srv.Requests("Decrypt")}
	c.other = srv.Requests("") - c.generate - c.encrypt - c.decrypt
	return c
}

func removeFile(path string) error { return os.Remove(path) }

// BenchmarkKeysetMode compares keyset mode with envelope mode (KMS keyring,
// data key cached) on a document of n 20-byte fields: X-AES-GCM derives a
// key per token, AES-GCM under a cached data key does not.
func BenchmarkKeysetMode(b *testing.B) {
	ctx := context.Background()
	srv := kmstest.Start(b)
	dir := b.TempDir()
	clients := envelope.KMSClients(srv.Config(b))
	st, err := keyset.NewStore(dir, clients, srv.KeyARN("primary"))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Create(ctx, "bench", nil); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"envelope", "keyset"} {
		kr := fmt.Sprintf(`{"kms":{"keyArn":%q}}`, srv.KeyARN("primary"))
		if mode == "keyset" {
			kr = fmt.Sprintf(`{"kmsKeyset":{"keyArn":%q,"dir":%q}}`, srv.KeyARN("primary"), dir)
		}
		cfg, err := ParseConfig(fmt.Appendf(nil, `{"keyrings":{"k":%s},"rules":[{"class":"bench","keyring":"k","select":["$.f[*]"]}]}`, kr))
		if err != nil {
			b.Fatal(err)
		}
		c, err := New(ctx, cfg, WithKMSClients(clients))
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 100} {
			var doc []byte
			doc = append(doc, `{"f":[`...)
			for i := range n {
				if i > 0 {
					doc = append(doc, ',')
				}
				doc = fmt.Appendf(doc, `"v%017d"`, i)
			}
			doc = append(doc, `]}`...)
			enc, err := c.Encrypt(ctx, doc)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("mode=%s/fields=%d/op=encrypt", mode, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Encrypt(ctx, doc); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("mode=%s/fields=%d/op=decrypt", mode, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Decrypt(ctx, enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
