package keyset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/internal/kmstest"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	tkeyset "github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	xpb "github.com/tink-crypto/tink-go/v2/proto/x_aes_gcm_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

var update = flag.Bool("update", false, "regenerate the keyset-mode test vectors in testdata/vectors")

const (
	vectorsDir      = "../../testdata/vectors"
	vectorKeysetDir = vectorsDir + "/keysets"
	clearKeysets    = "../../testdata/keys/insecure-vectors-keysets"
)

// vectorEC is the encryption context of testdata/vectors/config-keyset.json.
var vectorEC = map[string]string{"app": "sfnenc-vectors", "stage": "test"}

// vectorKey returns the deterministic key id of a vector keyset: its
// material is SHA-256 of a label, so the keysets can be rebuilt exactly.
func vectorKey(t testing.TB, class string, id uint32) *tinkpb.Keyset_Key {
	t.Helper()
	kv := sha256.Sum256(fmt.Appendf(nil, "sfnenc test vectors keyset %s key %d", class, id))
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&xpb.XAesGcmKey{Params: &xpb.XAesGcmParams{SaltSize: saltSize}, KeyValue: kv[:]})
	if err != nil {
		t.Fatal(err)
	}
	return &tinkpb.Keyset_Key{
		KeyData: &tinkpb.KeyData{TypeUrl: xaesTypeURL, Value: v, KeyMaterialType: tinkpb.KeyData_SYMMETRIC},
		Status:  tinkpb.KeyStatusType_ENABLED, KeyId: id, OutputPrefixType: tinkpb.OutputPrefixType_RAW,
	}
}

// vectorKeysetsFull returns the keysets before any key was destroyed:
// identity holds keys 1, 2 (primary) and 3; contact keys 1 and 2 (primary).
func vectorKeysetsFull(t testing.TB) map[string]*tinkpb.Keyset {
	return map[string]*tinkpb.Keyset{
		"identity": {PrimaryKeyId: 2, Key: []*tinkpb.Keyset_Key{vectorKey(t, "identity", 1), vectorKey(t, "identity", 2), vectorKey(t, "identity", 3)}},
		"contact":  {PrimaryKeyId: 2, Key: []*tinkpb.Keyset_Key{vectorKey(t, "contact", 1), vectorKey(t, "contact", 2)}},
	}
}

// vectorKeysets returns the keysets as the files hold them: identity's key
// 3 destroyed.
func vectorKeysets(t testing.TB) map[string]*tinkpb.Keyset {
	m := vectorKeysetsFull(t)
	k3 := m["identity"].Key[2]
	k3.KeyData, k3.Status = nil, tinkpb.KeyStatusType_DESTROYED
	return m
}

// TestVectorKeysets: the KMS-encrypted keysets of testdata/vectors decrypt
// (with local-kms's fixed "primary" key) to exactly the cleartext copies in
// testdata/keys, which are the deterministic keysets above.
func TestVectorKeysets(t *testing.T) {
	srv := kmstest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, vectorKeysetDir, "primary")
	if *update {
		writeVectors(t, s)
	}
	for class, want := range vectorKeysets(t) {
		got, _, err := s.decrypt(ctx, class, format.KeyContext(vectorEC, class), RoleReader)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: encrypted keyset mismatch (-want +got):\n%s", class, diff)
		}
		f, err := os.Open(filepath.Join(clearKeysets, class+".json"))
		if err != nil {
			t.Fatal(err)
		}
		inClear, err := tkeyset.NewJSONReader(f).Read()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, inClear, protocmp.Transform()); diff != "" {
			t.Errorf("%s: cleartext keyset mismatch (-want +got):\n%s", class, diff)
		}
	}
}

type vector struct {
	Comment   string `json:"comment"`
	Config    string `json:"config"`
	Encrypted string `json:"encrypted"`
	Expect    string `json:"expect"`
	Plaintext string `json:"plaintext,omitempty"`
	Pointer   string `json:"pointer,omitempty"`
}

// writeVectors writes the keyset files, their cleartext copies and the
// keyset-mode vectors (go test ./envelope/keyset -run VectorKeysets
// -update). Tokens are made here, by the specification in SECURITY.md,
// not by the codec, so that the codec's reader is checked against it.
func writeVectors(t *testing.T, s *Store) {
	ctx := context.Background()
	if err := os.MkdirAll(clearKeysets, 0o755); err != nil {
		t.Fatal(err)
	}
	for class, ks := range vectorKeysets(t) {
		if err := s.write(ctx, class, format.KeyContext(vectorEC, class), ks, nil, true); err != nil {
			t.Fatal(err)
		}
		js, err := protojson.MarshalOptions{Multiline: true}.Marshal(ks)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clearKeysets, class+".json"), append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	full := vectorKeysetsFull(t)
	// token seals value as class with key id of full[keysetClass] and
	// returns its text; edit may change the body.
	token := func(class, keysetClass string, id uint32, value string, edit func([]byte) []byte) string {
		var k *tinkpb.Keyset_Key
		for _, kk := range full[keysetClass].Key {
			if kk.GetKeyId() == id {
				k = kk
			}
		}
		p, err := registry.PrimitiveFromKeyData(k.GetKeyData())
		if err != nil {
			t.Fatal(err)
		}
		hdr := format.AppendKeysetHeader(nil, class, id)
		sealed, err := p.(tink.AEAD).Encrypt([]byte(value), format.AppendContext(bytes.Clone(hdr), format.KeyContext(vectorEC, class)))
		if err != nil {
			t.Fatal(err)
		}
		body := append(hdr, sealed...)
		if edit != nil {
			body = edit(body)
		}
		return string(format.AppendText(nil, body))
	}
	doc := func(fields ...string) string {
		var b bytes.Buffer
		b.WriteString("{")
		for i := 0; i < len(fields); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", fields[i], fields[i+1])
		}
		b.WriteString("}")
		return b.String()
	}
	str := func(s string) string { return `"` + s + `"` }
	ssn := `"078-05-1120"`
	applicant := `{"name": "Ada", "born": 1815, "tags": ["a", null, true, 1.5e3]}`
	email := `"ada@example.com"`
	v := map[string]vector{}
	v["keyset-basic"] = vector{Comment: "keyset-mode tokens of two classes, under each keyset's primary key (2); every JSON type comes back byte for byte",
		Config: "config-keyset.json",
		Encrypted: doc("ssn", str(token("identity", "identity", 2, ssn, nil)), "applicant", str(token("identity", "identity", 2, applicant, nil)),
			"email", str(token("contact", "contact", 2, email, nil)), "n", "1"),
		Expect: "ok", Plaintext: doc("ssn", ssn, "applicant", applicant, "email", email, "n", "1")}
	v["keyset-old-key"] = vector{Comment: "a token of key 1, an enabled key that is no longer primary, still reads",
		Config: "config-keyset.json", Encrypted: doc("ssn", str(token("identity", "identity", 1, ssn, nil))), Expect: "ok", Plaintext: doc("ssn", ssn)}
	bad := func(name, comment, config, tok, expect string) {
		v[name] = vector{Comment: comment, Config: config, Encrypted: doc("ssn", str(tok)), Expect: expect, Pointer: "/ssn"}
	}
	hdr := 3 + len("identity")
	bad("keyset-destroyed", "a token of key 3, which the keyset file marks destroyed", "config-keyset.json",
		token("identity", "identity", 3, ssn, nil), "destroyed")
	bad("keyset-unknown-key", "a token naming key 9, which the keyset does not hold", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { b[hdr], b[hdr+1] = 0, 9; return b }), "no-such-key")
	bad("keyset-key-id-changed", "a token of key 2 relabelled as key 1", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { b[hdr+1] = 1; return b }), "authentication")
	bad("keyset-key-id-zero", "key id 0", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { b[hdr+1] = 0; return b }), "malformed")
	bad("keyset-flipped-tag", "a bit of the tag flipped", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), "authentication")
	bad("keyset-flipped-salt", "a bit of the salt flipped", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { b[hdr+2] ^= 1; return b }), "authentication")
	bad("keyset-truncated", "the body cut to less than salt, nonce and tag", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { return b[:hdr+2+format.KeysetOverhead-1] }), "malformed")
	bad("keyset-extended", "a byte appended", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte { return append(b, 0) }), "authentication")
	bad("keyset-class-changed", "an identity token relabelled as contact, whose keyset also has a key 2", "config-keyset.json",
		token("identity", "identity", 2, ssn, func(b []byte) []byte {
			return append(format.AppendKeysetHeader(nil, "contact", 2), b[hdr+2:]...)
		}), "authentication")
	bad("keyset-other-context", "read under another encryption context: KMS refuses the keyset file", "config-keyset-other-context.json",
		token("identity", "identity", 2, ssn, nil), "invalid-key")
	bad("keyset-missing-file", "a class whose keyset file does not exist", "config-keyset-missing.json",
		token("identity", "identity", 2, ssn, nil), "missing-keyset")
	for name, vec := range v {
		data, err := json.MarshalIndent(vec, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vectorsDir, name+".vector.json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParseKeyset: any decrypted keyset bytes are refused with ErrBadFile or
// accepted as a keyset that keeps the rules (an enabled primary, key ids in
// range), without a panic. Seeded with the vector keysets.
func FuzzParseKeyset(f *testing.F) {
	for _, ks := range vectorKeysetsFull(f) {
		b, err := proto.Marshal(ks)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, ks := range vectorKeysets(f) {
		b, _ := proto.Marshal(ks)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := parseKeyset(b)
		if err != nil {
			if !errors.Is(err, ErrBadFile) {
				t.Fatalf("error %v does not wrap ErrBadFile", err)
			}
			return
		}
		var primary bool
		for _, k := range ks.GetKey() {
			if id := k.GetKeyId(); id == 0 || id > format.MaxKeysetKeyID {
				t.Fatalf("accepted key id %d", id)
			}
			if k.GetKeyId() == ks.GetPrimaryKeyId() && k.GetStatus() == tinkpb.KeyStatusType_ENABLED {
				primary = true
			}
		}
		if !primary {
			t.Fatal("accepted a keyset without an enabled primary key")
		}
	})
}
