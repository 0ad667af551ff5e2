// Package forgetest makes tokens the way an attacker who holds a data key
// would: it seals a value of its choosing under that key, with the subkeys
// and associated data SECURITY.md specifies, behind wrapped keys of its
// choosing, and signs it (mode 0x04) with a key of its choosing or appends
// a signature as given. Tests of codec, lambdamw and sfn-decrypt use it to
// play a principal that may read a class but not write it. It never makes
// a token a reader should accept unless given the writer's signing key.
package forgetest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"math/big"

	"github.com/sfnenc/sfnenc/internal/format"
)

// Token is what a forged token is made of.
type Token struct {
	Class   string
	Keys    []format.WrappedKey // the wrapped keys to put in the header
	DataKey []byte              // the data key the value is sealed under
	// KeyContext is the key context (configured context and class) of
	// the associated data.
	KeyContext map[string]string
	// Signed makes a mode 0x04 token with VerifyingKey in its header,
	// signed by SigningKey, or, if SigningKey is nil, followed by
	// Signature as it is (any length).
	Signed       bool
	VerifyingKey []byte
	SigningKey   ed25519.PrivateKey
	Signature    []byte
	// Binding, if not "", is the string business key bound to the token
	// (a rule's bind).
	Binding string
}

// Seal returns the text of a token of value (a JSON text) as t says.
func Seal(t Token, value string) (string, error) {
	body, err := SealBody(t, value)
	if err != nil {
		return "", err
	}
	return string(format.AppendText(nil, body)), nil
}

// SealBody is Seal, returning the token's body.
func SealBody(t Token, value string) ([]byte, error) {
	prk, err := hkdf.Extract(sha256.New, t.DataKey, nil)
	if err != nil {
		return nil, err
	}
	ek, err := hkdf.Expand(sha256.New, prk, "sfnenc v1 envelope aes-256-gcm key", 32)
	if err != nil {
		return nil, err
	}
	commit, err := hkdf.Expand(sha256.New, prk, "sfnenc v1 envelope key commitment", format.CommitmentSize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	var header []byte
	if t.Signed {
		header = format.AppendSignedHeader(nil, t.Class, t.Keys, commit, t.VerifyingKey)
	} else {
		header = format.AppendHeader(nil, t.Class, t.Keys, commit)
	}
	var kind byte
	if t.Binding != "" {
		kind = format.BindString
	}
	aad := format.AppendAssociatedData(nil, header, format.AppendContext(nil, t.KeyContext), kind, []byte(t.Binding))
	nonce := make([]byte, format.NonceSize)
	rand.Read(nonce)
	sealed := gcm.Seal(nonce, nonce, []byte(value), aad)
	body := append(append([]byte(nil), header...), sealed...)
	if !t.Signed {
		return body, nil
	}
	if t.SigningKey != nil {
		return append(body, ed25519.Sign(t.SigningKey, format.AppendSigningMessage(nil, aad, sealed))...), nil
	}
	return append(body, t.Signature...), nil
}

// NonCanonicalS returns an Ed25519 signature with S replaced by S + ℓ (the
// group order): the same signature spelled another way, which a lenient
// verifier accepts (the malleability GHSA-h45p-w933-jxh3 is about).
func NonCanonicalS(sig []byte) []byte {
	ell, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reverse(sig[32:]))
	s.Add(s, ell)
	return append(append([]byte(nil), sig[:32]...), reverse(s.FillBytes(make([]byte, 32)))...)
}

// reverse returns b in the other byte order (little- and big-endian).
func reverse(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}
