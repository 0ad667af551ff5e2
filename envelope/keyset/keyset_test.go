package keyset

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	xpb "github.com/tink-crypto/tink-go/v2/proto/x_aes_gcm_go_proto"
	"google.golang.org/protobuf/proto"
)

var testEC = map[string]string{"app": "identity-verification"}

func newStore(t *testing.T, srv *kmstest.Server, dir string, keys ...string) *Store {
	t.Helper()
	clients := envelope.KMSClients(srv.Config(t, config.WithRetryMaxAttempts(1)))
	var arns []string
	for _, k := range keys {
		arns = append(arns, srv.KeyARN(k))
	}
	s, err := NewStore(dir, clients, arns[0], arns[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ad is associated data as the codec builds it: token header, then context.
func ad(class string, keyID uint32, ec map[string]string) []byte {
	return format.AppendContext(format.AppendKeysetHeader(nil, class, keyID), format.KeyContext(ec, class))
}

func seal(t *testing.T, ks *Keyset, pt string) []byte {
	t.Helper()
	out, err := ks.Seal(nil, []byte(pt), ad(ks.Class(), ks.Primary(), testEC))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(pt)+format.KeysetOverhead {
		t.Errorf("sealed %d bytes, want %d", len(out), len(pt)+format.KeysetOverhead)
	}
	return out
}

func open(ks *Keyset, keyID uint32, sealed []byte) (string, error) {
	pt, err := ks.Open(nil, keyID, sealed, ad(ks.Class(), keyID, testEC))
	return string(pt), err
}

// keyValues returns the key material of a class's keyset, decrypted with
// KMS the way Load does, to look for it where it must not be.
func keyValues(t *testing.T, s *Store, class string) [][]byte {
	t.Helper()
	ks, _, err := s.decrypt(context.Background(), class, format.KeyContext(testEC, class), RoleReader)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, k := range ks.GetKey() {
		if k.GetKeyData() == nil {
			continue
		}
		var xk xpb.XAesGcmKey
		if err := proto.Unmarshal(k.GetKeyData().GetValue(), &xk); err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(xk.GetKeyValue()))
	}
	return out
}

// assertNoKeyMaterial fails if any key appears in text, raw or encoded.
func assertNoKeyMaterial(t *testing.T, what string, text []byte, keys [][]byte) {
	t.Helper()
	for _, k := range keys {
		for _, enc := range [][]byte{k, []byte(hex.EncodeToString(k)), []byte(base64.StdEncoding.EncodeToString(k)[:40]),
			[]byte(base64.RawURLEncoding.EncodeToString(k)[:40])} {
			if bytes.Contains(text, enc) {
				t.Errorf("%s holds key material", what)
			}
		}
	}
}

func TestLifecycle(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary", "breakglass")
	if err := admin.Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests("Decrypt"); got != 0 {
		t.Errorf("Create made %d Decrypt calls, want 0", got)
	}
	if got := srv.Requests("Encrypt"); got != 2 {
		t.Errorf("Create made %d Encrypt calls, want 2 (one per KMS key)", got)
	}
	if err := admin.Create(ctx, "identity", testEC); !errors.Is(err, ErrExists) {
		t.Errorf("second Create error = %v, want ErrExists", err)
	}

	// A process: one Decrypt for the class, then none.
	srv.ResetCounts()
	reader := newStore(t, srv, dir, "primary", "breakglass")
	ks1, err := reader.Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	tok1 := seal(t, ks1, `"078-05-1120"`)
	for range 100 {
		ks, err := reader.Load(ctx, "identity", testEC)
		if err != nil || ks != ks1 {
			t.Fatalf("Load again: %v, %p", err, ks)
		}
		if pt, err := open(ks, 1, tok1); err != nil || pt != `"078-05-1120"` {
			t.Fatalf("Open = %q, %v", pt, err)
		}
	}
	if got := srv.Requests(""); got != 1 {
		t.Errorf("101 loads and opens made %d KMS requests, want 1", got)
	}

	// Rotate: a new primary; a restarted process seals with it and opens
	// both keys' tokens.
	id, err := admin.Rotate(ctx, "identity", testEC)
	if err != nil || id != 2 {
		t.Fatalf("Rotate = %d, %v", id, err)
	}
	if ks1.Primary() != 1 {
		t.Error("a loaded keyset changed on rotation")
	}
	restarted := newStore(t, srv, dir, "primary")
	ks2, err := restarted.Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if ks2.Primary() != 2 {
		t.Errorf("primary after rotation = %d, want 2", ks2.Primary())
	}
	tok2 := seal(t, ks2, `{"n":2}`)
	if pt, err := open(ks2, 1, tok1); err != nil || pt != `"078-05-1120"` {
		t.Errorf("old token after rotation: %q, %v", pt, err)
	}
	if pt, err := open(ks2, 2, tok2); err != nil || pt != `{"n":2}` {
		t.Errorf("new token: %q, %v", pt, err)
	}
	// A token claiming another key id does not open.
	if _, err := open(ks2, 1, tok2); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("token with the wrong key id: %v, want ErrOpen", err)
	}
	if _, err := open(ks2, 9, tok2); !errors.Is(err, ErrNoSuchKey) {
		t.Errorf("unknown key id: %v, want ErrNoSuchKey", err)
	}
	want := []KeyInfo{{1, "enabled", false, Algorithm}, {2, "enabled", true, Algorithm}}
	got, err := admin.List("identity")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	keys := keyValues(t, admin, "identity")

	// Destroy key 1: its tokens never open again.
	if err := admin.Destroy(ctx, "identity", testEC, 2); !errors.Is(err, ErrPrimary) {
		t.Errorf("Destroy(primary) = %v, want ErrPrimary", err)
	}
	if err := admin.Destroy(ctx, "identity", testEC, 7); !errors.Is(err, ErrNoSuchKey) {
		t.Errorf("Destroy(7) = %v, want ErrNoSuchKey", err)
	}
	if err := admin.Destroy(ctx, "identity", testEC, 1); err != nil {
		t.Fatal(err)
	}
	if err := admin.Destroy(ctx, "identity", testEC, 1); !errors.Is(err, ErrDestroyed) {
		t.Errorf("second Destroy(1) = %v, want ErrDestroyed", err)
	}
	after, err := newStore(t, srv, dir, "primary").Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	_, err = open(after, 1, tok1)
	if !errors.Is(err, ErrDestroyed) || !strings.Contains(err.Error(), "destroyed") {
		t.Errorf("token of a destroyed key: %v, want ErrDestroyed", err)
	}
	if pt, err := open(after, 2, tok2); err != nil || pt != `{"n":2}` {
		t.Errorf("token of the kept key after Destroy: %q, %v", pt, err)
	}
	left := keyValues(t, admin, "identity")
	if len(left) != 1 || !bytes.Equal(left[0], keys[1]) {
		t.Errorf("after Destroy the keyset holds %d keys", len(left))
	}
	got, _ = admin.List("identity")
	if diff := cmp.Diff([]KeyInfo{{1, "destroyed", false, ""}, {2, "enabled", true, Algorithm}}, got); diff != "" {
		t.Errorf("List after Destroy mismatch (-want +got):\n%s", diff)
	}

	// The file holds no cleartext key material, and names both KMS keys.
	data, err := os.ReadFile(admin.Path("identity"))
	if err != nil {
		t.Fatal(err)
	}
	assertNoKeyMaterial(t, "the keyset file", data, keys)
	var fl file
	if err := json.Unmarshal(data, &fl); err != nil {
		t.Fatal(err)
	}
	if len(fl.EncryptedKeysets) != 2 || fl.EncryptedKeysets[1].KeyARN != srv.KeyARN("breakglass") {
		t.Errorf("encrypted keysets: %d", len(fl.EncryptedKeysets))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		assertNoKeyMaterial(t, "formatted keyset "+verb, fmt.Appendf(nil, verb, after), keys)
	}
}

// TestStagedRotation: a staged key is read by every process built after
// Stage, before any token is made with it; Rotate then promotes it.
func TestStagedRotation(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary")
	if err := admin.Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	id, err := admin.Stage(ctx, "identity", testEC)
	if err != nil || id != 2 {
		t.Fatalf("Stage = %d, %v", id, err)
	}
	staged, err := newStore(t, srv, dir, "primary").Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if staged.Primary() != 1 {
		t.Errorf("after Stage the primary key is %d, want 1", staged.Primary())
	}
	if id, err := admin.Rotate(ctx, "identity", testEC); err != nil || id != 2 {
		t.Fatalf("Rotate after Stage = %d, %v; want the staged key 2", id, err)
	}
	rotated, err := newStore(t, srv, dir, "primary").Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Primary() != 2 {
		t.Fatalf("primary %d, want 2", rotated.Primary())
	}
	// A process of the staged file reads the new primary key's tokens.
	if pt, err := open(staged, 2, seal(t, rotated, `"x"`)); err != nil || pt != `"x"` {
		t.Errorf("staged process reading a rotated token: %q, %v", pt, err)
	}
	got, _ := admin.List("identity")
	if diff := cmp.Diff([]KeyInfo{{1, "enabled", false, Algorithm}, {2, "enabled", true, Algorithm}}, got); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	// A plain Rotate now adds key 3.
	if id, err := admin.Rotate(ctx, "identity", testEC); err != nil || id != 3 {
		t.Errorf("second Rotate = %d, %v; want 3", id, err)
	}
}

func TestBreakGlassOnly(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := newStore(t, srv, dir, "primary", "breakglass").Create(ctx, "contact", testEC); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	// An operator in the break-glass account names only that key.
	if _, err := newStore(t, srv, dir, "breakglass").Load(ctx, "contact", testEC); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests("Decrypt"); got != 1 {
		t.Errorf("%d Decrypt calls, want 1", got)
	}
	// A reader whose keys the file does not name gets ErrNoKey.
	_, err := newStore(t, srv, dir, "other").Load(ctx, "contact", testEC)
	if !errors.Is(err, envelope.ErrNoKey) {
		t.Errorf("Load with an unrelated key: %v, want ErrNoKey", err)
	}
}

// TestConcurrentFirstUse: goroutines that all need a class's keyset at once
// make one KMS Decrypt between them (run with -race).
func TestConcurrentFirstUse(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary")
	for _, c := range []string{"identity", "contact"} {
		if err := admin.Create(ctx, c, testEC); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCounts()
	s := newStore(t, srv, dir, "primary")
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			<-start
			class := "identity"
			if i%2 == 1 {
				class = "contact"
			}
			ks, err := s.Load(ctx, class, testEC)
			if err != nil {
				errs <- err
				return
			}
			sealed, err := ks.Seal(nil, []byte(`1`), ad(class, ks.Primary(), testEC))
			if err == nil {
				_, err = ks.Open(nil, ks.Primary(), sealed, ad(class, ks.Primary(), testEC))
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
	if got := srv.Requests("Decrypt"); got != 2 {
		t.Errorf("64 concurrent first uses of 2 classes made %d Decrypt calls, want 2", got)
	}
}

// TestLoadOnlyUsedClasses: a store decrypts the keysets of the classes it is
// asked for, and no other.
func TestLoadOnlyUsedClasses(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary")
	for _, c := range []string{"a", "b", "c"} {
		if err := admin.Create(ctx, c, testEC); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCounts()
	s := newStore(t, srv, dir, "primary")
	if _, err := s.Load(ctx, "b", testEC); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(""); got != 1 {
		t.Errorf("%d KMS requests, want 1", got)
	}
}

// TestLoadRetriesAfterFailure: a failed load (KMS down) is not kept.
func TestLoadRetriesAfterFailure(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := newStore(t, srv, dir, "primary").Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, srv, dir, "primary")
	// Fault injection: the proxy refuses Decrypt once.
	srv.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.Unavailable, Count: 1})
	if _, err := s.Load(ctx, "identity", testEC); !errors.Is(err, envelope.ErrUnavailable) {
		t.Fatalf("Load under throttling: %v, want ErrUnavailable", err)
	}
	if _, err := s.Load(ctx, "identity", testEC); err != nil {
		t.Errorf("Load after the fault: %v", err)
	}
}

// TestBadFiles plays an attacker (or an accident) who changes, cuts,
// swaps or removes keyset files: each load fails with an error that names
// the file and the class, and no keyset.
func TestBadFiles(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary")
	for _, c := range []string{"identity", "contact"} {
		if err := admin.Create(ctx, c, testEC); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.Rotate(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(admin.Path("identity"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(admin.Path("contact"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*file)) []byte {
		var fl file
		if err := json.Unmarshal(good, &fl); err != nil {
			t.Fatal(err)
		}
		f(&fl)
		b, _ := json.Marshal(fl)
		return b
	}
	tests := []struct {
		name string
		data []byte // nil: no file
		ec   map[string]string
		want error
	}{
		{"missing file", nil, testEC, fs.ErrNotExist},
		{"empty file", []byte{}, testEC, ErrBadFile},
		{"file over 1 MiB", append(bytes.Clone(good), bytes.Repeat([]byte(" "), maxFileSize)...), testEC, ErrBadFile},
		{"truncated file", good[:len(good)/2], testEC, ErrBadFile},
		{"not JSON", []byte("\x00\x01garbage"), testEC, ErrBadFile},
		{"unknown field", []byte(strings.Replace(string(good), `"version"`, `"extra": 1, "version"`, 1)), testEC, ErrBadFile},
		{"trailing data", append(bytes.Clone(good), `{}`...), testEC, ErrBadFile},
		{"version 2", edit(func(f *file) { f.Version = 2 }), testEC, ErrBadFile},
		{"another class's file", other, testEC, ErrBadFile},
		{"another class's keyset, relabelled", func() []byte {
			var fl file
			_ = json.Unmarshal(other, &fl)
			fl.Class = "identity"
			var mine file
			_ = json.Unmarshal(good, &mine)
			fl.Keys = mine.Keys
			b, _ := json.Marshal(fl)
			return b
		}(), testEC, envelope.ErrInvalidKey},
		{"damaged ciphertext", edit(func(f *file) { c := f.EncryptedKeysets[0].Ciphertext; c[len(c)-1] ^= 1 }), testEC, envelope.ErrInvalidKey},
		{"truncated ciphertext", edit(func(f *file) { c := &f.EncryptedKeysets[0].Ciphertext; *c = (*c)[:len(*c)-10] }), testEC, envelope.ErrInvalidKey},
		{"under another encryption context", good, map[string]string{"app": "other"}, envelope.ErrInvalidKey},
		{"no copy under a configured key", edit(func(f *file) { f.EncryptedKeysets[0].KeyARN = srv.KeyARN("other") }), testEC, envelope.ErrNoKey},
		{"no encrypted keysets", edit(func(f *file) { f.EncryptedKeysets = nil }), testEC, ErrBadFile},
		{"key list claims another primary", edit(func(f *file) { f.Keys[0].Primary, f.Keys[1].Primary = true, false }), testEC, ErrBadFile},
		{"key list hides a key", edit(func(f *file) { f.Keys = f.Keys[1:] }), testEC, ErrBadFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			path := filepath.Join(d, "identity.json")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ks, err := newStore(t, srv, d, "primary").Load(ctx, "identity", tt.ec)
			if ks != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Load = %v, %v; want error %v", ks, err, tt.want)
			}
			var ke *Error
			if !errors.As(err, &ke) || ke.Path != path || ke.Class != "identity" {
				t.Fatalf("error %v is not an *Error for %s", err, path)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "class identity") {
				t.Errorf("error %q does not name the file and the class", err)
			}
		})
	}
}

// TestRotateUntilFull: rotation stops, with ErrFull and the file as it
// was, when the keyset would outgrow what KMS encrypts.
func TestRotateUntilFull(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, t.TempDir(), "primary")
	// local-kms cuts off about one answer in 40 that carries 3 to 4 KiB
	// (measured here; the SDK does not retry a cut-off answer), and this
	// test makes a hundred such requests: try a call that fails so again.
	again := func(f func() error) error {
		var err error
		for range 5 {
			if err = f(); !errors.Is(err, envelope.ErrUnavailable) {
				return err
			}
		}
		return err
	}
	if err := s.Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	var last uint32 = 1
	for {
		var id uint32
		err := again(func() (err error) { id, err = s.Rotate(ctx, "identity", testEC); return err })
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if id != last+1 {
			t.Fatalf("Rotate = %d after %d", id, last)
		}
		last = id
		if id > 100 {
			t.Fatal("no limit after 100 keys")
		}
	}
	t.Logf("a keyset holds %d enabled keys", last)
	if last < 30 {
		t.Errorf("only %d keys fit", last)
	}
	keys, err := s.List("identity")
	if err != nil || len(keys) != int(last) || !keys[last-1].Primary {
		t.Errorf("after ErrFull: %d keys, %v", len(keys), err)
	}
	// Destroying old keys makes room again.
	for id := uint32(1); id <= 10; id++ {
		if err := again(func() error { return s.Destroy(ctx, "identity", testEC, id) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := again(func() error { _, err := s.Rotate(ctx, "identity", testEC); return err }); err != nil {
		t.Errorf("Rotate after destroying 10 keys: %v", err)
	}
}

// TestDisabledKey: a disabled key's tokens are refused with ErrDisabled.
func TestDisabledKey(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, t.TempDir(), "primary")
	k1, _ := newKey(1)
	k2, _ := newKey(2)
	ks := &tinkpb.Keyset{PrimaryKeyId: 2, Key: []*tinkpb.Keyset_Key{k1, k2}}
	if err := s.write(ctx, "identity", format.KeyContext(testEC, "identity"), ks, nil, true); err != nil {
		t.Fatal(err)
	}
	loaded, err := newStore(t, srv, s.dir, "primary").Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	tok1 := func() []byte {
		out, err := loaded.keys[1].aead.Encrypt([]byte(`1`), ad("identity", 1, testEC))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}()
	k1.Status = tinkpb.KeyStatusType_DISABLED
	if err := s.write(ctx, "identity", format.KeyContext(testEC, "identity"), ks, nil, true); err != nil {
		t.Fatal(err)
	}
	disabled, err := newStore(t, srv, s.dir, "primary").Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open(disabled, 1, tok1); !errors.Is(err, ErrDisabled) {
		t.Errorf("token of a disabled key: %v, want ErrDisabled", err)
	}
	if got, _ := s.List("identity"); got[0].Status != "disabled" {
		t.Errorf("List shows key 1 as %q", got[0].Status)
	}
}

// TestBadKeysets: keysets that decrypt but break the rules are refused.
func TestBadKeysets(t *testing.T) {
	k1, _ := newKey(1)
	k2, _ := newKey(2)
	destroyedWithMaterial, _ := newKey(3)
	destroyedWithMaterial.Status = tinkpb.KeyStatusType_DESTROYED
	for _, tt := range []struct {
		name string
		ks   []byte
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"empty", nil},
		{"no primary", mustMarshal(t, 9, k1)},
		{"repeated id", mustMarshal(t, 1, k1, k1)},
		{"destroyed key with material", mustMarshal(t, 1, k1, destroyedWithMaterial)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseKeyset(tt.ks); !errors.Is(err, ErrBadFile) {
				t.Errorf("parseKeyset error = %v, want ErrBadFile", err)
			}
		})
	}
	if _, err := parseKeyset(mustMarshal(t, 2, k1, k2)); err != nil {
		t.Errorf("a good keyset: %v", err)
	}
}

func mustMarshal(t *testing.T, primary uint32, keys ...*tinkpb.Keyset_Key) []byte {
	t.Helper()
	b, err := proto.Marshal(&tinkpb.Keyset{PrimaryKeyId: primary, Key: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBreakGlassCopies plays a holder of kms:Encrypt on the break-glass key
// (and nothing on the primary key) who plants a keyset of their own in the
// break-glass copy of a file and damages or removes the primary copy: a
// reader configured with the primary key never loads the planted keyset.
// And a file whose copies differ gives no reader a keyset that another
// reader would not load.
func TestBreakGlassCopies(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary", "breakglass")
	if err := admin.Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(admin.Path("identity"))
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's keyset, encrypted under the break-glass key alone.
	attackerDir := t.TempDir()
	if err := newStore(t, srv, attackerDir, "breakglass").Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	planted, err := os.ReadFile(filepath.Join(attackerDir, "identity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var genuine, attacker file
	if err := json.Unmarshal(good, &genuine); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(planted, &attacker); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*file)) []byte {
		var fl file
		_ = json.Unmarshal(good, &fl)
		f(&fl)
		b, _ := json.Marshal(fl)
		return b
	}
	plantBG := func(fl *file) { fl.EncryptedKeysets[1] = attacker.EncryptedKeysets[0] }
	tests := []struct {
		name    string
		data    []byte
		keys    []string // the reader's configuration
		want    error    // nil: loads the genuine keyset
		wantErr bool
	}{
		{"primary copy removed, break-glass copy planted", edit(func(fl *file) {
			plantBG(fl)
			fl.EncryptedKeysets = fl.EncryptedKeysets[1:]
		}), []string{"primary", "breakglass"}, envelope.ErrNoKey, true},
		{"primary copy damaged, break-glass copy planted", edit(func(fl *file) {
			plantBG(fl)
			c := fl.EncryptedKeysets[0].Ciphertext
			c[len(c)-1] ^= 1
		}), []string{"primary", "breakglass"}, envelope.ErrInvalidKey, true},
		{"primary copy under another key id, break-glass copy planted", edit(func(fl *file) {
			plantBG(fl)
			fl.EncryptedKeysets[0].KeyARN = srv.KeyARN("other")
		}), []string{"primary", "breakglass"}, envelope.ErrNoKey, true},
		{"break-glass copy planted: primary reader", edit(plantBG), []string{"primary", "breakglass"}, nil, false},
		{"break-glass copy planted: break-glass reader", edit(plantBG), []string{"breakglass"}, ErrBadFile, true},
		{"planted copy and its digest: primary reader", edit(func(fl *file) {
			plantBG(fl)
			fl.KeysetDigest = attacker.KeysetDigest
		}), []string{"primary", "breakglass"}, ErrBadFile, true},
		{"copies not tied by a digest", edit(func(fl *file) { fl.KeysetDigest = nil }), []string{"primary", "breakglass"}, ErrBadFile, true},
		{"genuine: primary reader", good, []string{"primary", "breakglass"}, nil, false},
		{"genuine: break-glass reader", good, []string{"breakglass"}, nil, false},
	}
	want := keyValues(t, admin, "identity")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, "identity.json"), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s := newStore(t, srv, d, tt.keys...)
			srv.ResetCounts()
			ks, err := s.Load(ctx, "identity", testEC)
			if n := srv.Requests("Decrypt"); n > 1 {
				t.Errorf("%d KMS Decrypt calls, want at most 1 (no fallback to another copy)", n)
			}
			if tt.wantErr {
				if ks != nil || !errors.Is(err, tt.want) {
					t.Fatalf("Load = %v, %v; want %v", ks, err, tt.want)
				}
			} else if err != nil {
				t.Fatalf("Load: %v", err)
			} else if diff := cmp.Diff(want, keyValues(t, s, "identity")); diff != "" {
				t.Errorf("the reader loaded another keyset than the genuine one")
			}
		})
	}

	// A file of an earlier version (two copies, no digest) is rewritten by
	// an administrator's staged rotation, and then loads.
	legacy := edit(func(fl *file) { fl.KeysetDigest = nil })
	if err := os.WriteFile(admin.Path("identity"), legacy, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Stage(ctx, "identity", testEC); err != nil {
		t.Fatalf("Stage on a file without a digest: %v", err)
	}
	if _, err := newStore(t, srv, dir, "breakglass").Load(ctx, "identity", testEC); err != nil {
		t.Errorf("Load after the rewrite: %v", err)
	}
}

// TestRefusalIsRemembered: a reader that KMS refuses for a class makes one
// Decrypt, not one per use, for the store's failure age; a throttle is not
// remembered (TestLoadRetriesAfterFailure), nor is anything with a negative
// age.
func TestRefusalIsRemembered(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := newStore(t, srv, dir, "primary").Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	t.Run("invalid ciphertext", func(t *testing.T) {
		s := newStore(t, srv, dir, "primary")
		srv.ResetCounts()
		other := map[string]string{"app": "other"}
		for range 200 {
			if _, err := s.Load(ctx, "identity", other); !errors.Is(err, envelope.ErrInvalidKey) {
				t.Fatalf("Load: %v, want ErrInvalidKey", err)
			}
		}
		if n := srv.Requests("Decrypt"); n != 1 {
			t.Errorf("200 loads refused: %d Decrypt calls, want 1", n)
		}
	})
	t.Run("access denied, then the age runs out", func(t *testing.T) {
		s := newStore(t, srv, dir, "primary")
		now := time.Now()
		s.now = func() time.Time { return now }
		s.SetFailureAge(time.Minute)
		// Fault injection: KMS denies Decrypt until cleared.
		srv.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied})
		srv.ResetCounts()
		for range 200 {
			if _, err := s.Load(ctx, "identity", testEC); !errors.Is(err, envelope.ErrDenied) {
				t.Fatalf("Load: %v, want ErrDenied", err)
			}
		}
		if n := srv.Requests("Decrypt"); n != 1 {
			t.Errorf("200 loads denied: %d Decrypt calls, want 1", n)
		}
		srv.ClearFaults()
		if _, err := s.Load(ctx, "identity", testEC); !errors.Is(err, envelope.ErrDenied) {
			t.Errorf("within the failure age: %v, want the remembered ErrDenied", err)
		}
		now = now.Add(time.Minute)
		if _, err := s.Load(ctx, "identity", testEC); err != nil {
			t.Errorf("after the failure age: %v", err)
		}
	})
	t.Run("negative age", func(t *testing.T) {
		s := newStore(t, srv, dir, "primary")
		s.SetFailureAge(-1)
		srv.Inject(kmstest.Fault{Op: "Decrypt", Kind: kmstest.AccessDenied, Count: 3})
		srv.ResetCounts()
		for range 3 {
			s.Load(ctx, "identity", testEC)
		}
		if n := srv.Requests("Decrypt"); n != 3 {
			t.Errorf("%d Decrypt calls, want 3", n)
		}
	})
}
