package keyset

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// A signed keyset file (for a signed class, SECURITY.md "Signed classes")
// holds two kinds of encrypted copies: readers' copies (encryptedKeysets)
// with the X-AES-GCM keyset and the Ed25519 verifying key of every key that
// is not destroyed, under the key context plus RoleKey = "reader"; and
// writers' copies (writerKeysets) with the keyset and the private signing
// keys, under the key context plus RoleKey = "writer", so that a key policy
// can let only writers decrypt them.
const (
	// RoleKey is the encryption context key that says which copy of a
	// signed keyset file a ciphertext is.
	RoleKey = "sfnenc:role"
	// RoleReader and RoleWriter are the values of RoleKey for readers'
	// and writers' copies.
	RoleReader = "reader"
	RoleWriter = "writer"

	readerLabel = "sfnenc v1 signed keyset\x00"
	writerLabel = "sfnenc v1 signed keyset writer\x00"
)

// Errors of signed keyset files.
var (
	// ErrNotSigned: a writer of a signed class found a keyset file without
	// signing keys (made before the class was signed).
	ErrNotSigned = errors.New("keyset: the keyset file has no signing keys; run `sfn-decrypt keyset rotate --staged` for the signed class")
	// ErrNoVerifyingKey: a signed token names a key for which the keyset
	// file has no verifying key (an unsigned file).
	ErrNoVerifyingKey = errors.New("keyset: the keyset file has no verifying key for this key")
)

// roleContext returns the key context of one kind of copy of a signed file.
func roleContext(kctx map[string]string, role string) map[string]string {
	m := maps.Clone(kctx)
	m[RoleKey] = role
	return m
}

// signedIDs returns the ids of the keys of ks that have signing keys: those
// not destroyed, in order.
func signedIDs(ks *tinkpb.Keyset) []uint32 {
	var ids []uint32
	for _, k := range ks.GetKey() {
		if k.GetStatus() != tinkpb.KeyStatusType_DESTROYED {
			ids = append(ids, k.GetKeyId())
		}
	}
	slices.Sort(ids)
	return ids
}

// appendSigned appends the plaintext of a copy: label, the serialized
// keyset (u32 length), then u16 count and, per key id in order, u16 id and
// its 32-byte key (a verifying key, or a private key's seed).
func appendSigned(dst []byte, label string, tink []byte, keys map[uint32][]byte) []byte {
	dst = append(dst, label...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(tink)))
	dst = append(dst, tink...)
	ids := slices.Sorted(maps.Keys(keys))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ids)))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint16(dst, uint16(id))
		dst = append(dst, keys[id]...)
	}
	return dst
}

// parseSigned parses the plaintext of a copy with the given label: it
// returns the serialized keyset and the 32-byte keys by id (aliasing b).
func parseSigned(b []byte, label string) ([]byte, map[uint32][]byte, error) {
	bad := fmt.Errorf("%w: the signed keyset does not parse", ErrBadFile)
	if len(b) < len(label)+4 || string(b[:len(label)]) != label {
		return nil, nil, bad
	}
	b = b[len(label):]
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if n > len(b) {
		return nil, nil, bad
	}
	tink, b := b[:n], b[n:]
	if len(b) < 2 {
		return nil, nil, bad
	}
	count := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) != count*(2+32) {
		return nil, nil, bad
	}
	keys := make(map[uint32][]byte, count)
	last := uint32(0)
	for i := 0; i < count; i++ {
		id := uint32(binary.BigEndian.Uint16(b))
		if id <= last {
			return nil, nil, bad // in order, unique, not 0
		}
		last = id
		keys[id] = b[2:34]
		b = b[34:]
	}
	return tink, keys, nil
}

// signing is what a signed file adds to a keyset: verifying keys, and for
// writers the private keys, by key id.
type signing struct {
	public  map[uint32]ed25519.PublicKey
	private map[uint32]ed25519.PrivateKey // writers only
}

// checkSigned checks that keys has a key for exactly the keys of ks that
// are not destroyed.
func checkSigned(ks *tinkpb.Keyset, keys map[uint32][]byte) error {
	if !slices.Equal(signedIDs(ks), slices.Sorted(maps.Keys(keys))) {
		return fmt.Errorf("%w: the signing keys do not match the keyset's keys", ErrBadFile)
	}
	return nil
}

// readerPlaintext returns the plaintext of a reader's copy for the
// serialized keyset tink and the private keys' seeds, and the signing keys.
func readerPlaintext(tink []byte, seeds map[uint32][]byte) ([]byte, *signing) {
	sg := &signing{public: map[uint32]ed25519.PublicKey{}, private: map[uint32]ed25519.PrivateKey{}}
	pubs := map[uint32][]byte{}
	for id, seed := range seeds {
		priv := ed25519.NewKeyFromSeed(seed)
		sg.private[id] = priv
		sg.public[id] = priv.Public().(ed25519.PublicKey)
		pubs[id] = sg.public[id]
	}
	return appendSigned(nil, readerLabel, tink, pubs), sg
}

// newSeed returns the seed of a new Ed25519 private key.
func newSeed() []byte {
	_, priv, err := ed25519.GenerateKey(nil) // crypto/rand; never fails
	if err != nil {
		panic(err)
	}
	return priv.Seed()
}

// seedsFor returns the signing keys' seeds to write class's keyset ks with:
// nil if the class is not signed; else those of sg (a writer's copy, or nil)
// for every key that is not destroyed, and new ones for keys without.
func (s *Store) seedsFor(class string, ks *tinkpb.Keyset, sg *signing) map[uint32][]byte {
	if !s.signed[class] {
		return nil
	}
	seeds := map[uint32][]byte{}
	for _, id := range signedIDs(ks) {
		if sg != nil && sg.private[id] != nil {
			seeds[id] = sg.private[id].Seed()
		} else {
			seeds[id] = newSeed()
		}
	}
	return seeds
}
