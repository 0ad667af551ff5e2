package keyset

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/internal/forgetest"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

// signedVectorClass is the class of the signed keyset-mode vectors.
const signedVectorClass = "verified"

// signedVectorSeed returns the deterministic seed of the signing key of key
// id of the signed vector keyset.
func signedVectorSeed(id uint32) []byte {
	s := sha256.Sum256(fmt.Appendf(nil, "sfnenc test vectors signing key %s key %d", signedVectorClass, id))
	return s[:]
}

func signedVectorKeyset(t testing.TB) *tinkpb.Keyset {
	return &tinkpb.Keyset{PrimaryKeyId: 1, Key: []*tinkpb.Keyset_Key{vectorKey(t, signedVectorClass, 1)}}
}

// signingKeyInClear is one entry of the cleartext signing keys of the
// signed vector keyset (testdata/keys/insecure-vectors-keysets/verified.signing.json).
type signingKeyInClear struct {
	KeyID        uint32 `json:"keyId"`
	Ed25519Seed  []byte `json:"ed25519Seed"`  // base64
	VerifyingKey []byte `json:"verifyingKey"` // base64
}

// TestSignedVectorKeyset: the signed keyset file of testdata/vectors (class
// verified) gives readers the verifying key and writers the signing key
// that the deterministic seed makes, and its cleartext copies in
// testdata/keys hold the same. With -update it writes the file, the
// copies and the signed keyset-mode vectors, if the file is missing (go
// test ./envelope/keyset -run SignedVectorKeyset -update).
func TestSignedVectorKeyset(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, vectorKeysetDir, "primary")
	if _, err := os.Stat(s.Path(signedVectorClass)); *update && errors.Is(err, fs.ErrNotExist) {
		writeSignedVectors(t, s)
	}
	want := signedVectorKeyset(t)
	seed := signedVectorSeed(1)
	vk := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	w, err := s.LoadWriter(ctx, signedVectorClass, vectorEC)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.keys[1].sign.Seed(), seed) {
		t.Error("the writers' copy does not hold the vector signing key")
	}
	r, err := newStore(t, srv, vectorKeysetDir, "primary").Load(ctx, signedVectorClass, vectorEC)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.VerifyingKey(1); err != nil || !bytes.Equal(got, vk) {
		t.Errorf("the readers' copy's verifying key: %v", err)
	}
	got, _, err := s.decrypt(ctx, signedVectorClass, format.KeyContext(vectorEC, signedVectorClass), RoleReader)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("encrypted keyset mismatch (-want +got):\n%s", diff)
	}
	var inClear []signingKeyInClear
	data, err := os.ReadFile(filepath.Join(clearKeysets, signedVectorClass+".signing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &inClear); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]signingKeyInClear{{KeyID: 1, Ed25519Seed: seed, VerifyingKey: vk}}, inClear); diff != "" {
		t.Errorf("cleartext signing keys mismatch (-want +got):\n%s", diff)
	}
}

// writeSignedVectors writes the signed vector keyset file, its cleartext
// copies, and the vectors of signed keyset-mode tokens, made here by the
// specification in SECURITY.md.
func writeSignedVectors(t *testing.T, s *Store) {
	ctx := context.Background()
	ks := signedVectorKeyset(t)
	seeds := map[uint32][]byte{1: signedVectorSeed(1)}
	if err := s.write(ctx, signedVectorClass, format.KeyContext(vectorEC, signedVectorClass), ks, seeds, false); err != nil {
		t.Fatal(err)
	}
	js, err := protojson.MarshalOptions{Multiline: true}.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clearKeysets, signedVectorClass+".json"), append(js, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seeds[1])
	sk, err := json.MarshalIndent([]signingKeyInClear{{KeyID: 1, Ed25519Seed: seeds[1], VerifyingKey: priv.Public().(ed25519.PublicKey)}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clearKeysets, signedVectorClass+".signing.json"), append(sk, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := registry.PrimitiveFromKeyData(ks.Key[0].GetKeyData())
	if err != nil {
		t.Fatal(err)
	}
	aead := p.(tink.AEAD)
	kctx := format.AppendContext(nil, format.KeyContext(vectorEC, signedVectorClass))
	// token seals value by the specification: signed (mode 0x05) with
	// signer, or unsigned (mode 0x03) if signer is nil; edit may change
	// the signature.
	token := func(value string, signer ed25519.PrivateKey, edit func(sig []byte) []byte) string {
		hdr := format.AppendKeysetHeader(nil, signedVectorClass, 1)
		if signer != nil {
			hdr = format.AppendSignedKeysetHeader(nil, signedVectorClass, 1)
		}
		aad := format.AppendAssociatedData(nil, hdr, kctx, 0, nil)
		sealed, err := aead.Encrypt([]byte(value), aad)
		if err != nil {
			t.Fatal(err)
		}
		body := append(bytes.Clone(hdr), sealed...)
		if signer != nil {
			sig := ed25519.Sign(signer, format.AppendSigningMessage(nil, aad, sealed))
			if edit != nil {
				sig = edit(sig)
			}
			body = append(body, sig...)
		}
		return string(format.AppendText(nil, body))
	}
	ssn := `"078-05-1120"`
	doc := func(tok string) string { return `{"ssn": "` + tok + `"}` }
	_, other, _ := ed25519.GenerateKey(nil)
	good := token(ssn, priv, nil)
	real, err := format.Decode([]byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]vector{
		"keyset-signed": {Comment: "a token of a signed keyset-mode class (mode 0x05)", Config: "config-keyset-signed.json",
			Encrypted: doc(good), Expect: "ok", Plaintext: `{"ssn": ` + ssn + "}"},
		"keyset-signed-staged-unsigned": {Comment: "a staged class's reader still reads an unsigned token (mode 0x03)", Config: "config-keyset-signed-staged.json",
			Encrypted: doc(token(ssn, nil, nil)), Expect: "ok", Plaintext: `{"ssn": ` + ssn + "}"},
		"keyset-signed-unsigned": {Comment: "an unsigned token (mode 0x03), sealed with the class's key, where signatures are required", Config: "config-keyset-signed.json",
			Encrypted: doc(token(ssn, nil, nil)), Expect: "unsigned", Pointer: "/ssn"},
		"keyset-signed-resealed": {Comment: "another value sealed with the class's key (which readers hold), with the real token's signature", Config: "config-keyset-signed.json",
			Encrypted: doc(token(`"000-00-0000"`, priv, func([]byte) []byte { return real.Signature })), Expect: "forged", Pointer: "/ssn"},
		"keyset-signed-other-signer": {Comment: "another value sealed with the class's key and signed by a key of the forger's", Config: "config-keyset-signed.json",
			Encrypted: doc(token(`"000-00-0000"`, other, nil)), Expect: "forged", Pointer: "/ssn"},
		"keyset-signed-non-canonical-s": {Comment: "a genuine token whose signature has S + l (the group order) in place of S", Config: "config-keyset-signed.json",
			Encrypted: doc(token(ssn, priv, forgetest.NonCanonicalS)), Expect: "forged", Pointer: "/ssn"},
	}
	for name, vec := range v {
		path := filepath.Join(vectorsDir, name+".vector.json")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		data, err := json.MarshalIndent(vec, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
