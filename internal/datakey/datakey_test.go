package datakey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/sfnenc/sfnenc/envelope"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sfnenc/sfnenc/internal/format"
)

func TestDataKeySealOpen(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, envelope.DataKeySize)
	k, err := New(bytes.Clone(secret))
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
	other, err := New(bytes.Repeat([]byte{0x43}, envelope.DataKeySize))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		key             *Key
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
			if _, err := tt.key.Open(nil, tt.commit, tt.ct, tt.aad); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("Open error = %v, want envelope.ErrOpen", err)
			}
		})
	}
}

func TestDataKeyNeverFormatsSecrets(t *testing.T) {
	secret := bytes.Repeat([]byte{0xAB}, envelope.DataKeySize)
	k, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secret, make([]byte, envelope.DataKeySize)) {
		t.Error("the data key secret was not zeroed after derivation")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		s := fmt.Sprintf(verb, k)
		if s != "datakey.Key(redacted)" {
			t.Errorf("Sprintf(%s) = %q", verb, s)
		}
		if s := fmt.Sprintf(verb, *k); s != "datakey.Key(redacted)" {
			t.Errorf("Sprintf(%s) of the value = %q", verb, s)
		}
	}
}

type countingKeyring struct {
	inner   envelope.Keyring
	calls   atomic.Int64
	fail    atomic.Bool
	release chan struct{} // if set, calls wait for it
}

func (c *countingKeyring) GenerateDataKey(ctx context.Context, ec map[string]string) ([]byte, []envelope.WrappedKey, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	if c.fail.Load() {
		return nil, nil, &envelope.KeyError{Op: "generate", Kind: envelope.ErrUnavailable}
	}
	return c.inner.GenerateDataKey(ctx, ec)
}

func (c *countingKeyring) Wrap(ctx context.Context, s []byte, ec map[string]string) ([]envelope.WrappedKey, error) {
	return c.inner.Wrap(ctx, s, ec)
}

func (c *countingKeyring) Unwrap(ctx context.Context, w []envelope.WrappedKey, ec map[string]string) ([]byte, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	if c.fail.Load() {
		return nil, &envelope.KeyError{Op: "unwrap", Kind: envelope.ErrUnavailable}
	}
	return c.inner.Unwrap(ctx, w, ec)
}

func TestEncryptCacheLimits(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"a": "b"}
	tests := []struct {
		name   string
		limits Limits
		uses   []uint64 // uses per request; bytes = 10 per use
		calls  int64
	}{
		{"reused", Limits{}, []uint64{1, 1, 1, 100}, 1},
		{"spent after MaxUses", Limits{MaxUses: 3}, []uint64{1, 1, 1, 1}, 2},
		{"a request that does not fit takes a new key", Limits{MaxUses: 3}, []uint64{2, 2, 2}, 3},
		{"spent after MaxBytes", Limits{MaxBytes: 25}, []uint64{1, 1, 1}, 2},
		{"not cached", Limits{MaxAge: -1}, []uint64{1, 1, 1}, 3},
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
		c, _ := NewEncryptCache(Limits{MaxAge: time.Minute})
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
		c, _ := NewEncryptCache(Limits{})
		a, _, _ := c.DataKey(ctx, "a", kr, ec, 1, 1)
		b, _, _ := c.DataKey(ctx, "b", kr, ec, 1, 1)
		if a == b {
			t.Error("two partitions got one key")
		}
	})
	t.Run("over the hard limit", func(t *testing.T) {
		if _, err := NewEncryptCache(Limits{MaxUses: HardMaxUses + 1}); err == nil {
			t.Error("MaxUses over HardMaxUses accepted")
		}
		c, _ := NewEncryptCache(Limits{MaxUses: 5})
		if _, _, err := c.DataKey(ctx, "p", testLocal(t), ec, 6, 1); err == nil {
			t.Error("a request over MaxUses was granted")
		}
	})
	t.Run("errors are not cached", func(t *testing.T) {
		kr := &countingKeyring{inner: testLocal(t)}
		kr.fail.Store(true)
		c, _ := NewEncryptCache(Limits{})
		if _, _, err := c.DataKey(ctx, "p", kr, ec, 1, 1); !errors.Is(err, envelope.ErrUnavailable) {
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
			enc, _ := NewEncryptCache(Limits{})
			dec, _ := NewDecryptCache(Limits{})
			var wg sync.WaitGroup
			keys := make([]*Key, 32)
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
	c, _ := NewEncryptCache(Limits{})
	ec := map[string]string{}
	go c.DataKey(context.Background(), "p", kr, ec, 1, 1) // blocks in the keyring
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.DataKey(ctx, "p", kr, ec, 1, 1); !errors.Is(err, envelope.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want envelope.ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestDecryptCacheEviction(t *testing.T) {
	ctx := context.Background()
	kr := &countingKeyring{inner: testLocal(t)}
	ec := map[string]string{}
	_, wrapped, _ := kr.inner.GenerateDataKey(ctx, ec)
	c, _ := NewDecryptCache(Limits{MaxEntries: 2})
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

// verdictKeyring answers every Unwrap with an error of the given kind:
// fault injection standing for a key service's verdict.
type verdictKeyring struct {
	countingKeyring
	kind error
}

func (v *verdictKeyring) Unwrap(context.Context, []envelope.WrappedKey, map[string]string) ([]byte, error) {
	v.calls.Add(1)
	return nil, &envelope.KeyError{Op: "unwrap", Provider: envelope.ProviderAWSKMS, KeyID: "arn:test", Kind: v.kind}
}

// TestRefusalsAreRemembered: a refusal by the key service is remembered
// per wrapped key for FailureAge (MaxAge by default), so 200 tokens under
// one wrapped key that a reader may not open cost one call; throttles and
// outages are not remembered, and nothing is when FailureAge is negative.
func TestRefusalsAreRemembered(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		kind   error
		limits Limits
		calls  int64
	}{
		{envelope.ErrDenied, Limits{}, 1},
		{envelope.ErrInvalidKey, Limits{}, 1},
		{envelope.ErrKeyNotFound, Limits{}, 1},
		{envelope.ErrUnavailable, Limits{}, 200},
		{envelope.ErrNoCredentials, Limits{}, 200},
		{envelope.ErrDenied, Limits{FailureAge: -1}, 200},
		{envelope.ErrDenied, Limits{MaxAge: -1}, 200},
	} {
		kr := &verdictKeyring{kind: tc.kind}
		c, err := NewDecryptCache(tc.limits)
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if _, _, err := c.DataKey(ctx, []byte("header"), kr, nil, nil); !errors.Is(err, tc.kind) {
				t.Fatalf("%v: error %v", tc.kind, err)
			}
		}
		if got := kr.calls.Load(); got != tc.calls {
			t.Errorf("%v, limits %+v: %d keyring calls for 200 tokens, want %d", tc.kind, tc.limits, got, tc.calls)
		}
	}

	// The memory is per wrapped key, and ends after FailureAge.
	kr := &verdictKeyring{kind: envelope.ErrDenied}
	c, _ := NewDecryptCache(Limits{MaxAge: time.Minute})
	now := time.Now()
	c.s.now = func() time.Time { return now }
	c.DataKey(ctx, []byte("a"), kr, nil, nil)
	c.DataKey(ctx, []byte("b"), kr, nil, nil)
	c.DataKey(ctx, []byte("a"), kr, nil, nil)
	if got := kr.calls.Load(); got != 2 {
		t.Errorf("two wrapped keys: %d calls, want 2", got)
	}
	now = now.Add(61 * time.Second)
	c.DataKey(ctx, []byte("a"), kr, nil, nil)
	if got := kr.calls.Load(); got != 3 {
		t.Errorf("after FailureAge: %d calls, want 3", got)
	}
	if st := c.Stats(); st.Refused != 1 {
		t.Errorf("Stats().Refused = %d, want 1", st.Refused)
	}
}

func TestNoncesNeverRepeat(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, envelope.DataKeySize))
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

func TestNoncesCopyPanics(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, envelope.DataKeySize))
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

func TestNoncesCopyIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	out, err := exec.Command("go", "vet", "./testdata/noncescopy").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "copies lock value") {
		t.Errorf("go vet did not report the copy (err %v):\n%s", err, out)
	}
}

func copyNonces(dst, src *Nonces) { reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem()) }

func testLocal(t testing.TB) *envelope.InsecureLocalKeyring {
	t.Helper()
	kr, err := envelope.LoadInsecureLocalKeyset("../../testdata/keys/insecure-test-keyset.json")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}
