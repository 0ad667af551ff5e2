package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// InsecureLocalKeyring wraps data keys with an AEAD keyset kept in a
// cleartext file. It exists for development, tests and demos: anyone who can
// read the keyset file can decrypt every token made with it. Never use it
// for real data.
type InsecureLocalKeyring struct {
	aead tink.AEAD
	ids  map[string]bool
	id   string
}

// NewInsecureLocal returns a keyring over a Tink AEAD keyset handle. Its
// wrapped keys name the keyset's primary key as "local:<key id>".
func NewInsecureLocal(h *keyset.Handle) (*InsecureLocalKeyring, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("envelope: local keyset: %w", err)
	}
	info := h.KeysetInfo()
	k := &InsecureLocalKeyring{aead: a, ids: map[string]bool{}}
	for _, ki := range info.GetKeyInfo() {
		k.ids[localKeyID(ki.GetKeyId())] = true
	}
	k.id = localKeyID(info.GetPrimaryKeyId())
	return k, nil
}

func localKeyID(id uint32) string { return "local:" + strconv.FormatUint(uint64(id), 10) }

// LoadInsecureLocalKeyset reads a cleartext Tink JSON keyset file (as written
// by WriteInsecureLocalKeyset) and returns a keyring over it.
func LoadInsecureLocalKeyset(path string) (*InsecureLocalKeyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("envelope: local keyset: %w", err)
	}
	defer f.Close()
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	if err != nil {
		return nil, fmt.Errorf("envelope: local keyset %s: %w", path, err)
	}
	return NewInsecureLocal(h)
}

// WriteInsecureLocalKeyset writes a new cleartext AES-256-GCM Tink keyset as
// JSON to w.
func WriteInsecureLocalKeyset(w io.Writer) error {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return err
	}
	return insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(w))
}

// KeyID returns the name of the keyset's primary key, as tokens record it.
func (k *InsecureLocalKeyring) KeyID() string { return k.id }

func (k *InsecureLocalKeyring) GenerateDataKey(ctx context.Context, ec map[string]string) ([]byte, []WrappedKey, error) {
	secret := make([]byte, DataKeySize)
	if _, err := randRead(secret); err != nil {
		return nil, nil, err
	}
	w, err := k.Wrap(ctx, secret, ec)
	if err != nil {
		clear(secret)
		return nil, nil, err
	}
	return secret, w, nil
}

func (k *InsecureLocalKeyring) Wrap(_ context.Context, secret []byte, ec map[string]string) ([]WrappedKey, error) {
	ct, err := k.aead.Encrypt(secret, format.AppendContext(nil, ec))
	if err != nil {
		return nil, &KeyError{Op: "wrap", Provider: ProviderInsecureLocal, KeyID: k.id, Err: err}
	}
	return []WrappedKey{{Provider: ProviderInsecureLocal, KeyID: k.id, Ciphertext: ct}}, nil
}

func (k *InsecureLocalKeyring) Unwrap(_ context.Context, wrapped []WrappedKey, ec map[string]string) ([]byte, error) {
	var ad []byte
	for _, w := range wrapped {
		if w.Provider != ProviderInsecureLocal || !k.ids[w.KeyID] {
			continue
		}
		if ad == nil {
			ad = format.AppendContext(nil, ec)
		}
		secret, err := k.aead.Decrypt(w.Ciphertext, ad)
		if err != nil {
			return nil, &KeyError{Op: "unwrap", Provider: ProviderInsecureLocal, KeyID: w.KeyID, Kind: ErrInvalidKey}
		}
		if len(secret) != DataKeySize {
			clear(secret)
			return nil, &KeyError{Op: "unwrap", Provider: ProviderInsecureLocal, KeyID: w.KeyID, Kind: ErrInvalidKey,
				Err: errors.New("wrapped secret has the wrong size")}
		}
		return secret, nil
	}
	return nil, ErrNoKey
}

// String returns a fixed text: the keyring never formats its keyset.
func (k InsecureLocalKeyring) String() string { return "envelope.InsecureLocalKeyring(" + k.id + ")" }

// GoString is like String, for %#v.
func (k InsecureLocalKeyring) GoString() string { return k.String() }

// Format prints the fixed text for every verb.
func (k InsecureLocalKeyring) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }
