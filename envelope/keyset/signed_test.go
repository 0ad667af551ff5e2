package keyset

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
)

func readFile(t *testing.T, path string) *file {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fl file
	if err := json.Unmarshal(data, &fl); err != nil {
		t.Fatal(err)
	}
	return &fl
}

func writeFile(t *testing.T, path string, fl *file) {
	t.Helper()
	data, err := json.Marshal(fl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSignedFile: a signed file's readers get verifying keys and no
// signing key, its writers both; one KMS Decrypt per process and role; the
// readers' copies hold no signing key in any form; the copies are tied by
// the digest; an unsigned file becomes signed, keeping its keys, and a
// destroyed key's signing key goes.
func TestSignedFile(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	dir := t.TempDir()
	admin := newStore(t, srv, dir, "primary", "breakglass")
	admin.SetSigned("identity", true)
	if err := admin.Create(ctx, "identity", testEC); err != nil {
		t.Fatal(err)
	}
	fl := readFile(t, admin.Path("identity"))
	if len(fl.WriterKeysets) != 2 || len(fl.EncryptedKeysets) != 2 {
		t.Fatalf("%d writer and %d reader copies, want 2 and 2", len(fl.WriterKeysets), len(fl.EncryptedKeysets))
	}

	srv.ResetCounts()
	reader := newStore(t, srv, dir, "primary")
	rks, err := reader.Load(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rks.Sign(nil, []byte("m")); !errors.Is(err, ErrNotSigned) {
		t.Errorf("a reader's keyset signs: %v", err)
	}
	vk, err := rks.VerifyingKey(1)
	if err != nil {
		t.Fatal(err)
	}
	writer := newStore(t, srv, dir, "primary")
	wks, err := writer.LoadWriter(ctx, "identity", testEC)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := writer.Load(ctx, "identity", testEC); err != nil || again != wks {
		t.Errorf("a writer's Load did not reuse its keyset: %v", err)
	}
	if n := srv.Requests("Decrypt"); n != 2 {
		t.Errorf("%d KMS Decrypt calls, want 2 (one reader, one writer)", n)
	}
	sig, err := wks.Sign(nil, []byte("message"))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(vk, []byte("message"), sig) {
		t.Error("the reader's verifying key does not verify the writer's signature")
	}
	sealed := seal(t, wks, "value")
	if got, err := open(rks, 1, sealed); err != nil || got != "value" {
		t.Errorf("a reader cannot open a writer's value: %v", err)
	}

	// The reader's copy holds no signing key: decrypt it as a reader may,
	// and look for the writer's seed.
	client := kms.NewFromConfig(srv.Config(t))
	kctx := format.KeyContext(testEC, "identity")
	out, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")),
		CiphertextBlob: fl.EncryptedKeysets[0].Ciphertext, EncryptionContext: roleContext(kctx, RoleReader)})
	if err != nil {
		t.Fatal(err)
	}
	seed := wks.keys[1].sign.Seed()
	if bytes.Contains(out.Plaintext, seed) || bytes.Contains(out.Plaintext, wks.keys[1].sign) {
		t.Error("the reader's copy holds the signing key")
	}
	// And its context is not the writers': KMS refuses it under the writer
	// role (so a key policy can tell the two apart), and the writer's copy
	// under the reader role.
	if _, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(srv.KeyARN("primary")),
		CiphertextBlob: fl.WriterKeysets[0].Ciphertext, EncryptionContext: roleContext(kctx, RoleReader)}); err == nil {
		t.Error("the writer's copy decrypts under the reader's context")
	}

	t.Run("writer copy of another file", func(t *testing.T) {
		other := t.TempDir()
		o := newStore(t, srv, other, "primary", "breakglass")
		o.SetSigned("identity", true)
		if err := o.Create(ctx, "identity", testEC); err != nil {
			t.Fatal(err)
		}
		mixed := readFile(t, admin.Path("identity"))
		mixed.WriterKeysets = readFile(t, o.Path("identity")).WriterKeysets
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "identity.json"), mixed)
		if _, err := newStore(t, srv, d, "primary").LoadWriter(ctx, "identity", testEC); !errors.Is(err, ErrBadFile) {
			t.Errorf("a writer loaded a writer's copy of another file: %v", err)
		}
	})
	t.Run("writer copy in the readers' place", func(t *testing.T) {
		swapped := readFile(t, admin.Path("identity"))
		swapped.EncryptedKeysets = swapped.WriterKeysets
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "identity.json"), swapped)
		if _, err := newStore(t, srv, d, "primary").Load(ctx, "identity", testEC); err == nil {
			t.Error("a reader loaded a writer's copy")
		}
	})

	t.Run("unsigned file becomes signed, keeping its keys; destroy drops the signing key", func(t *testing.T) {
		d := t.TempDir()
		s := newStore(t, srv, d, "primary")
		if err := s.Create(ctx, "identity", testEC); err != nil {
			t.Fatal(err)
		}
		old, err := newStore(t, srv, d, "primary").Load(ctx, "identity", testEC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newStore(t, srv, d, "primary").LoadWriter(ctx, "identity", testEC); !errors.Is(err, ErrNotSigned) {
			t.Errorf("LoadWriter of an unsigned file: %v, want ErrNotSigned", err)
		}
		oldSealed := seal(t, old, "old value")
		s.SetSigned("identity", true)
		if id, err := s.Stage(ctx, "identity", testEC); err != nil || id != 2 {
			t.Fatalf("Stage = %d, %v", id, err)
		}
		w, err := newStore(t, srv, d, "primary").LoadWriter(ctx, "identity", testEC)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := open(w, 1, oldSealed); err != nil || got != "old value" {
			t.Errorf("the signed file lost the old key: %v", err)
		}
		for _, id := range []uint32{1, 2} {
			if _, err := w.VerifyingKey(id); err != nil {
				t.Errorf("key %d: %v", id, err)
			}
		}
		if _, err := s.Rotate(ctx, "identity", testEC); err != nil {
			t.Fatal(err)
		}
		if err := s.Destroy(ctx, "identity", testEC, 1); err != nil {
			t.Fatal(err)
		}
		r, err := newStore(t, srv, d, "primary").Load(ctx, "identity", testEC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.VerifyingKey(1); !errors.Is(err, ErrDestroyed) {
			t.Errorf("the destroyed key's verifying key: %v", err)
		}
		w2, err := newStore(t, srv, d, "primary").LoadWriter(ctx, "identity", testEC)
		if err != nil {
			t.Fatal(err)
		}
		if w2.keys[1].sign != nil {
			t.Error("the destroyed key kept its signing key")
		}
		if !bytes.Equal(w2.keys[2].verify, w.keys[2].verify) {
			t.Error("rotate and destroy changed a kept key's signing key")
		}
	})
}
