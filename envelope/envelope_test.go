package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/internal/format"
)

func testLocal(t testing.TB) *InsecureLocalKeyring {
	t.Helper()
	kr, err := LoadInsecureLocalKeyset("../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestDataKeySealOpen(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, DataKeySize)
	k, err := newDataKey(bytes.Clone(secret))
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("header and context")
	sealed := k.Seal(nil, []byte(`"value"`), aad)
	if len(sealed) != format.NonceSize+len(`"value"`)+format.TagSize {
		t.Fatalf("sealed is %d bytes", len(sealed))
	}
	got, err := k.Open(nil, k.Commitment(), sealed, aad)
	if err != nil || string(got) != `"value"` {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Two seals of one plaintext differ (random nonces).
	if bytes.Equal(sealed, k.Seal(nil, []byte(`"value"`), aad)) {
		t.Error("two seals are equal")
	}
	other, err := newDataKey(bytes.Repeat([]byte{0x43}, DataKeySize))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		key             *DataKey
		commit, ct, aad []byte
	}{
		{"other associated data", k, k.Commitment(), sealed, []byte("other")},
		{"other commitment", k, other.Commitment(), sealed, aad},
		{"other key, its own commitment", other, other.Commitment(), sealed, aad},
		{"short", k, k.Commitment(), sealed[:format.NonceSize+format.TagSize-1], aad},
		{"altered", k, k.Commitment(), func() []byte { b := bytes.Clone(sealed); b[len(b)-1] ^= 1; return b }(), aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.key.Open(nil, tt.commit, tt.ct, tt.aad); !errors.Is(err, ErrOpen) {
				t.Errorf("Open error = %v, want ErrOpen", err)
			}
		})
	}
}

func TestDataKeyNeverFormatsSecrets(t *testing.T) {
	secret := bytes.Repeat([]byte{0xAB}, DataKeySize)
	k, err := newDataKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secret, make([]byte, DataKeySize)) {
		t.Error("the data key secret was not zeroed after derivation")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		s := fmt.Sprintf(verb, k)
		if s != "envelope.DataKey(redacted)" {
			t.Errorf("Sprintf(%s) = %q", verb, s)
		}
		if s := fmt.Sprintf(verb, *k); s != "envelope.DataKey(redacted)" {
			t.Errorf("Sprintf(%s) of the value = %q", verb, s)
		}
	}
}

func TestLocalKeyring(t *testing.T) {
	ctx := context.Background()
	kr := testLocal(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if s := fmt.Sprintf(verb, kr); s != "envelope.InsecureLocalKeyring("+kr.KeyID()+")" {
			t.Errorf("Sprintf(%s) = %q", verb, s)
		}
	}
	ec := map[string]string{"app": "x", format.ClassKey: "contact"}
	secret, wrapped, err := kr.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 1 || wrapped[0].Provider != ProviderInsecureLocal || wrapped[0].KeyID != kr.KeyID() {
		t.Fatalf("wrapped = %+v", wrapped)
	}
	got, err := kr.Unwrap(ctx, wrapped, ec)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unwrap = %v", err)
	}
	if _, err := kr.Unwrap(ctx, wrapped, map[string]string{"app": "y", format.ClassKey: "contact"}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Unwrap under another context: %v, want ErrInvalidKey", err)
	}
	foreign := []WrappedKey{{Provider: ProviderInsecureLocal, KeyID: "local:1", Ciphertext: wrapped[0].Ciphertext}}
	if _, err := kr.Unwrap(ctx, foreign, ec); !errors.Is(err, ErrNoKey) {
		t.Errorf("Unwrap of another keyset's key: %v, want ErrNoKey", err)
	}
	kms := []WrappedKey{{Provider: ProviderAWSKMS, KeyID: kr.KeyID(), Ciphertext: wrapped[0].Ciphertext}}
	if _, err := kr.Unwrap(ctx, kms, ec); !errors.Is(err, ErrNoKey) {
		t.Errorf("Unwrap of a KMS-wrapped key: %v, want ErrNoKey", err)
	}
}

func TestParseKeyARN(t *testing.T) {
	for _, tt := range []struct {
		arn, region string
		ok          bool
	}{
		{"arn:aws:kms:eu-west-2:111122223333:key/0d7c4f4e-58a1-4c34-9a38-2f1d4b0b6c21", "eu-west-2", true},
		{"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234", "us-gov-west-1", true},
		{"arn:aws:kms:eu-west-2:111122223333:alias/demo", "", false},
		{"alias/demo", "", false},
		{"0d7c4f4e-58a1-4c34-9a38-2f1d4b0b6c21", "", false},
		{"arn:aws:s3:::bucket", "", false},
		{"arn:aws:kms:eu-west-2:111122223333:key/", "", false},
		{"arn:aws:kms::111122223333:key/abc", "", false},
	} {
		region, err := ParseKeyARN(tt.arn)
		if (err == nil) != tt.ok || region != tt.region {
			t.Errorf("ParseKeyARN(%q) = %q, %v", tt.arn, region, err)
		}
	}
}

// countingKeyring counts calls and can fail or block; it stands in for a
// keyring only to test the caches.
type countingKeyring struct {
	inner   Keyring
	calls   atomic.Int64
	fail    atomic.Bool
	release chan struct{} // if set, calls wait for it
}

func (c *countingKeyring) GenerateDataKey(ctx context.Context, ec map[string]string) ([]byte, []WrappedKey, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	if c.fail.Load() {
		return nil, nil, &KeyError{Op: "generate", Kind: ErrUnavailable}
	}
	return c.inner.GenerateDataKey(ctx, ec)
}

func (c *countingKeyring) Wrap(ctx context.Context, s []byte, ec map[string]string) ([]WrappedKey, error) {
	return c.inner.Wrap(ctx, s, ec)
}

func (c *countingKeyring) Unwrap(ctx context.Context, w []WrappedKey, ec map[string]string) ([]byte, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	if c.fail.Load() {
		return nil, &KeyError{Op: "unwrap", Kind: ErrUnavailable}
	}
	return c.inner.Unwrap(ctx, w, ec)
}

func TestEncryptCacheLimits(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"a": "b"}
	tests := []struct {
		name   string
		limits CacheLimits
		uses   []uint64 // uses per request; bytes = 10 per use
		calls  int64
	}{
		{"reused", CacheLimits{}, []uint64{1, 1, 1, 100}, 1},
		{"spent after MaxUses", CacheLimits{MaxUses: 3}, []uint64{1, 1, 1, 1}, 2},
		{"a request that does not fit takes a new key", CacheLimits{MaxUses: 3}, []uint64{2, 2, 2}, 3},
		{"spent after MaxBytes", CacheLimits{MaxBytes: 25}, []uint64{1, 1, 1}, 2},
		{"not cached", CacheLimits{MaxAge: -1}, []uint64{1, 1, 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr := &countingKeyring{inner: testLocal(t)}
			c, err := NewEncryptCache(tt.limits)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range tt.uses {
				if _, _, err := c.DataKey(ctx, "p", kr, ec, u, 10*u); err != nil {
					t.Fatal(err)
				}
			}
			if got := kr.calls.Load(); got != tt.calls {
				t.Errorf("keyring calls = %d, want %d", got, tt.calls)
			}
		})
	}
	t.Run("expires with age", func(t *testing.T) {
		kr := &countingKeyring{inner: testLocal(t)}
		c, _ := NewEncryptCache(CacheLimits{MaxAge: time.Minute})
		now := time.Unix(1000, 0)
		c.s.now = func() time.Time { return now }
		k1, _, _ := c.DataKey(ctx, "p", kr, ec, 1, 1)
		now = now.Add(59 * time.Second)
		k2, _, _ := c.DataKey(ctx, "p", kr, ec, 1, 1)
		now = now.Add(2 * time.Second)
		k3, _, _ := c.DataKey(ctx, "p", kr, ec, 1, 1)
		if k1 != k2 || k2 == k3 || kr.calls.Load() != 2 {
			t.Errorf("keys %p %p %p, calls %d", k1, k2, k3, kr.calls.Load())
		}
	})
	t.Run("partitions never share keys", func(t *testing.T) {
		kr := &countingKeyring{inner: testLocal(t)}
		c, _ := NewEncryptCache(CacheLimits{})
		a, _, _ := c.DataKey(ctx, "a", kr, ec, 1, 1)
		b, _, _ := c.DataKey(ctx, "b", kr, ec, 1, 1)
		if a == b {
			t.Error("two partitions got one key")
		}
	})
	t.Run("over the hard limit", func(t *testing.T) {
		if _, err := NewEncryptCache(CacheLimits{MaxUses: HardMaxUses + 1}); err == nil {
			t.Error("MaxUses over HardMaxUses accepted")
		}
		c, _ := NewEncryptCache(CacheLimits{MaxUses: 5})
		if _, _, err := c.DataKey(ctx, "p", testLocal(t), ec, 6, 1); err == nil {
			t.Error("a request over MaxUses was granted")
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		kr := &countingKeyring{inner: testLocal(t)}
		kr.fail.Store(true)
		c, _ := NewEncryptCache(CacheLimits{})
		if _, _, err := c.DataKey(ctx, "p", kr, ec, 1, 1); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		kr.fail.Store(false)
		if _, _, err := c.DataKey(ctx, "p", kr, ec, 1, 1); err != nil {
			t.Fatal(err)
		}
		if kr.calls.Load() != 2 {
			t.Errorf("calls = %d, want 2", kr.calls.Load())
		}
	})
}

// TestConcurrentMissesMakeOneCall: many goroutines missing on one key at
// once share one keyring call.
func TestConcurrentMissesMakeOneCall(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"a": "b"}
	local := testLocal(t)
	_, wrapped, err := local.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"encrypt", "decrypt"} {
		t.Run(side, func(t *testing.T) {
			kr := &countingKeyring{inner: local, release: make(chan struct{})}
			enc, _ := NewEncryptCache(CacheLimits{})
			dec, _ := NewDecryptCache(CacheLimits{})
			var wg sync.WaitGroup
			keys := make([]*DataKey, 32)
			for i := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if side == "encrypt" {
						keys[i], _, err = enc.DataKey(ctx, "p", kr, ec, 1, 1)
					} else {
						keys[i], _, err = dec.DataKey(ctx, []byte("id"), kr, wrapped, ec)
					}
					if err != nil {
						t.Error(err)
					}
				}()
			}
			time.Sleep(50 * time.Millisecond) // let them all miss
			close(kr.release)
			wg.Wait()
			if got := kr.calls.Load(); got != 1 {
				t.Errorf("keyring calls = %d, want 1", got)
			}
			for _, k := range keys {
				if k != keys[0] {
					t.Fatal("goroutines got different keys")
				}
			}
		})
	}
}

func TestWaiterHonoursItsContext(t *testing.T) {
	kr := &countingKeyring{inner: testLocal(t), release: make(chan struct{})}
	defer close(kr.release)
	c, _ := NewEncryptCache(CacheLimits{})
	ec := map[string]string{}
	go c.DataKey(context.Background(), "p", kr, ec, 1, 1) // blocks in the keyring
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.DataKey(ctx, "p", kr, ec, 1, 1); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestDecryptCacheEviction(t *testing.T) {
	ctx := context.Background()
	kr := &countingKeyring{inner: testLocal(t)}
	ec := map[string]string{}
	_, wrapped, _ := kr.inner.GenerateDataKey(ctx, ec)
	c, _ := NewDecryptCache(CacheLimits{MaxEntries: 2})
	for _, id := range []string{"a", "b", "a", "c", "a"} {
		if _, _, err := c.DataKey(ctx, []byte(id), kr, wrapped, ec); err != nil {
			t.Fatal(err)
		}
	}
	// a, b miss; a hits; c misses and evicts a (the oldest); a misses.
	if got := kr.calls.Load(); got != 4 {
		t.Errorf("keyring calls = %d, want 4", got)
	}
}

func TestMulti(t *testing.T) {
	ctx := context.Background()
	a := testLocal(t)
	b, err := LoadInsecureLocalKeyset("../testdata/keys/insecure-other-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"k": "v"}
	m := Multi(a, b)
	secret, wrapped, err := m.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 2 {
		t.Fatalf("%d wrapped keys", len(wrapped))
	}
	for _, kr := range []Keyring{a, b, m, Multi(b, a)} {
		got, err := kr.Unwrap(ctx, wrapped, ec)
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("Unwrap: %v", err)
		}
	}
	for _, w := range wrapped {
		if !m.(interface{ Owns(WrappedKey) bool }).Owns(w) {
			t.Errorf("multi keyring does not own %s", w.KeyID)
		}
	}
}

// verdictKeyring fails every Unwrap with the given kind: fault injection
// standing for a key service's answer.
type verdictKeyring struct {
	Keyring
	kind error
}

func (v verdictKeyring) Unwrap(context.Context, []WrappedKey, map[string]string) ([]byte, error) {
	return nil, &KeyError{Op: "unwrap", Provider: ProviderAWSKMS, KeyID: "primary", Kind: v.kind}
}

// TestNoFallbackAfterInvalidKey plays a holder of a break-glass key who
// corrupts the primary wrapped key and wraps a data key of their own under
// the break-glass key: the reader must not fall back when the primary key
// says the wrapped key does not decrypt. It may fall back when the primary
// key is denied or unavailable.
func TestNoFallbackAfterInvalidKey(t *testing.T) {
	ctx := context.Background()
	breakGlass := testLocal(t)
	ec := map[string]string{"k": "v"}
	_, wrapped, err := breakGlass.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind     error
		fallback bool
	}{
		{ErrInvalidKey, false},
		{ErrDenied, true},
		{ErrUnavailable, true},
		{ErrNoKey, true},
	} {
		m := Multi(verdictKeyring{Keyring: breakGlass, kind: tc.kind}, breakGlass)
		_, err := m.Unwrap(ctx, wrapped, ec)
		if got := err == nil; got != tc.fallback {
			t.Errorf("primary fails with %v: fell back = %v, want %v (err %v)", tc.kind, got, tc.fallback, err)
		}
		if !tc.fallback && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("primary fails with %v: error %v, want ErrInvalidKey", tc.kind, err)
		}
	}
}

// TestNoncesNeverRepeat: nonces from a batch are all different, across
// refills, and a sealed value opens whichever way its nonce was drawn.
func TestNoncesNeverRepeat(t *testing.T) {
	k, err := newDataKey(bytes.Repeat([]byte{7}, DataKeySize))
	if err != nil {
		t.Fatal(err)
	}
	var ns Nonces
	seen := map[string]bool{}
	for i := 0; i < 3*nonceBatch+5; i++ {
		sealed := k.SealWith(&ns, nil, []byte("v"), nil)
		nonce := string(sealed[:format.NonceSize])
		if seen[nonce] {
			t.Fatalf("nonce repeated after %d seals", i)
		}
		seen[nonce] = true
		if pt, err := k.Open(nil, k.Commitment(), sealed, nil); err != nil || string(pt) != "v" {
			t.Fatalf("Open: %v", err)
		}
	}
}

// TestNoncesCopyPanics: a copy of a Nonces made after use would hand out
// the original's nonces again; using it panics before it draws one, while a
// copy of the zero value is a fresh Nonces.
func TestNoncesCopyPanics(t *testing.T) {
	k, err := newDataKey(bytes.Repeat([]byte{7}, DataKeySize))
	if err != nil {
		t.Fatal(err)
	}
	fresh := new(Nonces)
	unused := new(Nonces)
	copyNonces(unused, fresh) // the zero value may be copied
	k.SealWith(unused, nil, []byte("v"), nil)

	ns := new(Nonces)
	first := k.SealWith(ns, nil, []byte("v"), nil)
	cp := new(Nonces)
	copyNonces(cp, ns) // the misuse under test
	defer func() {
		if recover() == nil {
			t.Error("a copy after use sealed without panicking")
		}
	}()
	second := k.SealWith(cp, nil, []byte("v"), nil)
	if bytes.Equal(first[:format.NonceSize], second[:format.NonceSize]) {
		t.Error("the copy repeated a nonce")
	}
}

// TestNoncesCopyIsReported: go vet's copylocks check reports a copy of a
// Nonces, so the mistake is caught before it runs.
func TestNoncesCopyIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	out, err := exec.Command("go", "vet", "./testdata/noncescopy").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "copies lock value") {
		t.Errorf("go vet did not report the copy (err %v):\n%s", err, out)
	}
}

// copyNonces copies *src to *dst past go vet, which would report *dst = *src.
func copyNonces(dst, src *Nonces) { reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem()) }
