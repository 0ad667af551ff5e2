package datakey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"github.com/sfnenc/sfnenc/envelope"
	"slices"

	"github.com/sfnenc/sfnenc/internal/format"
)

// HKDF labels. Changing one changes the format: they are part of SECURITY.md.
const (
	labelKey    = "sfnenc v1 envelope aes-256-gcm key"
	labelCommit = "sfnenc v1 envelope key commitment"
)

// Key is an unwrapped data key, ready to seal and open values. It keeps
// only keys derived from the secret; the secret itself is zeroed once they
// are derived. Formatting a Key never prints key material.
type Key struct {
	aead   cipher.AEAD
	commit [format.CommitmentSize]byte
	// wrapped is set on data keys made for encryption.
	wrapped []envelope.WrappedKey
	// signer is the Ed25519 private key of a signed data key made for
	// encryption (its public key is bound into the wrapped key's
	// encryption context); nil otherwise. It never leaves the Key.
	signer ed25519.PrivateKey
}

// New derives a Key from secret and then zeroes secret.
func New(secret []byte) (*Key, error) {
	defer clear(secret)
	if len(secret) != envelope.DataKeySize {
		return nil, fmt.Errorf("datakey: data key is %d bytes, want %d", len(secret), envelope.DataKeySize)
	}
	prk, err := hkdf.Extract(sha256.New, secret, nil)
	if err != nil {
		return nil, err
	}
	defer clear(prk)
	ek, err := hkdf.Expand(sha256.New, prk, labelKey, 32)
	if err != nil {
		return nil, err
	}
	defer clear(ek)
	ck, err := hkdf.Expand(sha256.New, prk, labelCommit, format.CommitmentSize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Key{aead: a}
	copy(k.commit[:], ck)
	return k, nil
}

// Commitment returns the key commitment that a token carries next to its
// sealed value.
func (k *Key) Commitment() []byte { return k.commit[:] }

// Wrapped returns the wrapped forms of a data key made for encryption.
func (k *Key) Wrapped() []envelope.WrappedKey { return k.wrapped }

// Seal appends a fresh random nonce and the sealed plaintext (ciphertext and
// tag) to dst, binding aad.
func (k *Key) Seal(dst, plaintext, aad []byte) []byte {
	return k.SealWith(nil, dst, plaintext, aad)
}

// SealWith is Seal with the nonce taken from ns, which reads crypto/rand once
// per batch of nonces instead of once per value; nil ns reads it for this
// value alone.
func (k *Key) SealWith(ns *Nonces, dst, plaintext, aad []byte) []byte {
	// The nonce goes straight into dst: no allocation per token. Seal
	// writes after it, so nonce and output do not overlap.
	n := len(dst)
	dst = slices.Grow(dst, format.NonceSize+len(plaintext)+format.TagSize)[:n+format.NonceSize]
	if ns != nil {
		ns.fill(dst[n:])
	} else {
		rand.Read(dst[n:]) // never fails (crypto/rand, Go 1.24+)
	}
	return k.aead.Seal(dst, dst[n:], plaintext, aad)
}

// Nonces hands out random nonces read from crypto/rand in batches: every
// byte is used once. The zero value is ready; it is not safe for concurrent
// use, so keep one per goroutine or call.
//
// A Nonces must not be copied after first use: a copy would hand out the
// nonces of the original's batch again, and a nonce used twice under one
// data key breaks AES-GCM. go vet's copylocks check reports copies, and a
// copy that is used anyway panics.
type Nonces struct {
	_    noCopy
	self *Nonces // set on first use; a copy has another address
	buf  [nonceBatch * format.NonceSize]byte
	off  int
}

// noCopy makes go vet's copylocks check report copies of a struct that
// holds it, as sync.WaitGroup's does; it has no other effect.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

const nonceBatch = 256

func (ns *Nonces) fill(dst []byte) {
	switch ns.self {
	case ns:
	case nil:
		ns.self = ns
	default:
		panic("envelope: a Nonces was copied after use; its copy would repeat nonces")
	}
	if ns.off == 0 || ns.off+len(dst) > len(ns.buf) {
		rand.Read(ns.buf[:]) // never fails (crypto/rand, Go 1.24+)
		ns.off = 0
	}
	copy(dst, ns.buf[ns.off:ns.off+len(dst)])
	ns.off += len(dst)
	if ns.off == len(ns.buf) {
		ns.off = 0 // refill before the next use
	}
}

// Open checks commitment against the data key in constant time, then opens
// sealed (nonce, ciphertext and tag) with aad, appending the plaintext to
// dst. Any failure is envelope.ErrOpen.
func (k *Key) Open(dst, commitment, sealed, aad []byte) ([]byte, error) {
	if !hmac.Equal(commitment, k.commit[:]) {
		return nil, envelope.ErrOpen
	}
	if len(sealed) < format.NonceSize+format.TagSize {
		return nil, envelope.ErrOpen
	}
	out, err := k.aead.Open(dst, sealed[:format.NonceSize], sealed[format.NonceSize:], aad)
	if err != nil {
		return nil, envelope.ErrOpen
	}
	return out, nil
}

// VerifyingKey returns the public key of a signed data key made for
// encryption, or nil.
func (k *Key) VerifyingKey() []byte {
	if k.signer == nil {
		return nil
	}
	return k.signer.Public().(ed25519.PublicKey)
}

// Sign returns the Ed25519 signature of msg by a signed data key's private
// key, appended to dst. It panics on a Key that is not signed.
func (k *Key) Sign(dst, msg []byte) []byte {
	if k.signer == nil {
		panic("datakey: Sign on a data key without a signing key")
	}
	return append(dst, ed25519.Sign(k.signer, msg)...)
}

// String returns a fixed text: a Key never formats its keys.
func (k Key) String() string { return "datakey.Key(redacted)" }

// GoString is like String, for %#v.
func (k Key) GoString() string { return k.String() }

// Format prints the fixed text for every verb.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }
