// Package format is the one place where the sfnenc token wire format is
// parsed and written. SECURITY.md ("Token format") is the specification; this
// package follows it and knows nothing of keys or JSON.
//
// A token is the text Prefix followed by the unpadded base64url (RFC 4648
// section 5) encoding of a binary body:
//
//	version  u8   = Version1
//	mode     u8   = ModeEnvelope (other values are refused)
//	class    u8 length (1..MaxClassLen) + ASCII bytes
//	-- ModeESDK: the rest is an AWS Encryption SDK message --
//	-- ModeKeyset: --
//	key id   u16  the keyset key (1..MaxKeysetKeyID)
//	sealed   the keyset AEAD's ciphertext (at least KeysetOverhead bytes)
//	-- ModeEnvelope: --
//	count    u8   number of wrapped keys (1..MaxWrappedKeys)
//	count ×  { provider u8, keyID u16 length + bytes, ciphertext u16 length + bytes }
//	commit   32 bytes, the key commitment
//	nonce    12 bytes
//	sealed   ciphertext || 16-byte tag (at least 16 bytes)
//
// Integers are big-endian. Everything before the nonce is the token's header;
// the header followed by the encoded encryption context is the associated
// data of the field's AEAD (see AssociatedData).
package format

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Prefix starts every token. It never changes: later versions are told apart
// by the version byte, so that a reader of an older version recognises a
// newer token and refuses it instead of passing it on as ordinary text.
const Prefix = "sfnenc:"

// Version1 is the only format version.
const Version1 = 0x01

// Mode says how a token's data key is carried.
type Mode uint8

const (
	// ModeEnvelope carries the data key wrapped by one or more keyrings,
	// and seals the value with AES-256-GCM under keys derived by HKDF-SHA256.
	ModeEnvelope Mode = 0x01
	// ModeESDK carries an AWS Encryption SDK message (suite 0x0478) whose
	// encryption context holds the key context.
	ModeESDK Mode = 0x02
	// ModeKeyset names a key of the class's KMS-encrypted keyset by id and
	// carries the value sealed by that key (X-AES-GCM with a 160-bit
	// nonce: an 8-byte salt and a 12-byte nonce before the ciphertext).
	ModeKeyset Mode = 0x03
	// ModeSignedEnvelope is ModeEnvelope with writer authentication: the
	// header ends with the Ed25519 verifying key of the data key (bound
	// into the data key's KMS encryption context as VerifyingKeyKey), and
	// the body ends with an Ed25519 signature (see SigningMessage).
	ModeSignedEnvelope Mode = 0x04
	// ModeSignedKeyset is ModeKeyset with writer authentication: the body
	// ends with an Ed25519 signature by the signing key of the keyset key
	// the token names (see SigningMessage).
	ModeSignedKeyset Mode = 0x05
)

// Signed reports whether tokens of mode m carry a writer's signature.
func (m Mode) Signed() bool { return m == ModeSignedEnvelope || m == ModeSignedKeyset }

// Unsigned returns the mode that m signs (ModeEnvelope for
// ModeSignedEnvelope, ModeKeyset for ModeSignedKeyset), or m.
func (m Mode) Unsigned() Mode {
	switch m {
	case ModeSignedEnvelope:
		return ModeEnvelope
	case ModeSignedKeyset:
		return ModeKeyset
	}
	return m
}

// Provider names the kind of key that wrapped a data key.
type Provider uint8

const (
	// ProviderAWSKMS: KeyID is a KMS key ARN and Ciphertext a KMS CiphertextBlob.
	ProviderAWSKMS Provider = 0x01
	// ProviderInsecureLocal: KeyID names a local Tink keyset key and
	// Ciphertext is that keyset's AEAD ciphertext of the data key.
	ProviderInsecureLocal Provider = 0x02
)

func (p Provider) String() string {
	switch p {
	case ProviderAWSKMS:
		return "aws-kms"
	case ProviderInsecureLocal:
		return "insecure-local"
	}
	return fmt.Sprintf("provider(0x%02x)", uint8(p))
}

// Sizes and limits of the format.
const (
	MaxClassLen    = 63
	MaxWrappedKeys = 16
	MaxKeyIDLen    = 2048
	MaxWrappedLen  = 6144
	CommitmentSize = 32
	NonceSize      = 12
	TagSize        = 16
	// MaxKeysetKeyID is the largest keyset key id; 0 is not an id.
	MaxKeysetKeyID = 0xffff
	// KeysetOverhead is the least length of a ModeKeyset sealed value:
	// salt (8), nonce (12) and tag (16).
	KeysetOverhead = 8 + NonceSize + TagSize
	// VerifyingKeySize and SignatureSize are the sizes of an Ed25519
	// public key and signature, the fixed fields of ModeSignedEnvelope.
	VerifyingKeySize = 32
	SignatureSize    = 64
)

// ErrMalformed is returned for text that has the token prefix but is not a
// well-formed token of a version and mode this package knows.
var ErrMalformed = errors.New("malformed token")

// ErrUnsupported is returned for a well-formed token prefix whose version or
// mode this package does not know. It wraps ErrMalformed.
var ErrUnsupported error = &malformedError{"unsupported version or mode", nil}

// malformedError is an error that wraps ErrMalformed and says only what is
// wrong: callers report it after their own "malformed token", so the words
// are not repeated.
type malformedError struct {
	reason string
	also   error // another error it wraps, or nil
}

func (e *malformedError) Error() string { return e.reason }

func (e *malformedError) Unwrap() []error {
	if e.also != nil {
		return []error{ErrMalformed, e.also}
	}
	return []error{ErrMalformed}
}

// malformed returns an error that wraps ErrMalformed with a reason.
func malformed(format string, args ...any) error {
	return &malformedError{reason: fmt.Sprintf(format, args...)}
}

// WrappedKey is one encryption of a token's data key.
type WrappedKey struct {
	Provider   Provider
	KeyID      string
	Ciphertext []byte
}

// Token is a parsed token. Slices may alias the buffer it was parsed from.
type Token struct {
	Version byte
	Mode    Mode
	Class   string
	Keys    []WrappedKey
	// KeyID is the keyset key of a ModeKeyset token (0 for other modes).
	KeyID uint32
	// Header is the encoded header (version through commitment; through
	// the key id for ModeKeyset), the associated data's first part.
	Header     []byte
	Commitment []byte
	// Payload is the nonce followed by the ciphertext and tag (for
	// ModeKeyset, the sealed value: salt, nonce, ciphertext and tag).
	Payload []byte
	// VerifyingKey and Signature are set for ModeSignedEnvelope: the
	// header's last 32 bytes and the body's last 64.
	VerifyingKey, Signature []byte
}

// IsToken reports whether s claims to be a token (has the prefix). Such a
// value must then parse and authenticate; it is never passed on silently.
func IsToken(s []byte) bool {
	return len(s) >= len(Prefix) && string(s[:len(Prefix)]) == Prefix
}

// ValidClass reports whether c is a valid class name: 1 to 63 bytes of
// ASCII letters, digits, '_', '-' and '.', starting with a letter or digit.
func ValidClass(c string) bool {
	if len(c) == 0 || len(c) > MaxClassLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case i > 0 && (b == '_' || b == '-' || b == '.'):
		default:
			return false
		}
	}
	return true
}

var b64 = base64.RawURLEncoding.Strict()

// Decode parses the text form of a token (including the prefix). buf is
// scratch space for the decoded body and may be nil; the returned token's
// slices alias it.
func Decode(text []byte, buf []byte) (*Token, error) {
	t := new(Token)
	if _, err := t.Decode(text, buf); err != nil {
		return nil, err
	}
	return t, nil
}

// Decode is like the function Decode, into t: it reuses t's storage, and
// keeps t's strings where they are equal to the new ones, so decoding many
// tokens of one data key does not allocate. It returns buf, grown, for
// reuse; t aliases it.
func (t *Token) Decode(text []byte, buf []byte) ([]byte, error) {
	if !IsToken(text) {
		return buf, malformed("missing prefix")
	}
	enc := text[len(Prefix):]
	n := b64.DecodedLen(len(enc))
	// Reject what base64 would quietly skip (CR, LF) and any other
	// non-canonical spelling: the encoding must be exactly the one we write.
	if b64.EncodedLen(n) != len(enc) {
		return buf, malformed("bad base64 length")
	}
	buf = slices.Grow(buf[:0], n)[:n]
	m, err := b64.Decode(buf, enc)
	if err != nil || m != n {
		return buf, malformed("bad base64")
	}
	return buf, t.Parse(buf[:m])
}

// Parse parses a token body (the decoded binary form).
func Parse(b []byte) (*Token, error) {
	t := new(Token)
	if err := t.Parse(b); err != nil {
		return nil, err
	}
	return t, nil
}

// Parse is like the function Parse, into t, reusing t's storage as Decode
// does.
func (t *Token) Parse(b []byte) error {
	if len(b) < 3 {
		return malformed("too short")
	}
	t.Version, t.Mode = b[0], Mode(b[1])
	t.Header, t.Commitment, t.Payload, t.KeyID = nil, nil, nil, 0
	t.VerifyingKey, t.Signature = nil, nil
	if t.Version != Version1 {
		return &malformedError{fmt.Sprintf("%v (version %d)", ErrUnsupported, t.Version), ErrUnsupported}
	}
	if t.Mode < ModeEnvelope || t.Mode > ModeSignedKeyset {
		return &malformedError{fmt.Sprintf("%v (mode %d)", ErrUnsupported, t.Mode), ErrUnsupported}
	}
	r := reader{b: b, off: 2}
	class := r.bytes8()
	if r.err != nil {
		return r.err
	}
	if !ValidClass(string(class)) {
		return malformed("invalid class name")
	}
	t.Class = reuse(t.Class, class)
	t.Keys = t.Keys[:0]
	if t.Mode == ModeESDK {
		// The rest is an AWS Encryption SDK message, which carries its
		// own data keys and authenticates itself.
		t.Header, t.Payload = b[:r.off], b[r.off:]
		if len(t.Payload) == 0 {
			return malformed("empty message")
		}
		return nil
	}
	if t.Mode == ModeKeyset || t.Mode == ModeSignedKeyset {
		id := r.fixed(2)
		if r.err != nil {
			return r.err
		}
		t.KeyID = uint32(binary.BigEndian.Uint16(id))
		if t.KeyID == 0 {
			return fmt.Errorf("%w: keyset key id 0", ErrMalformed)
		}
		t.Header, t.Payload = b[:r.off], b[r.off:]
		if t.Mode == ModeSignedKeyset {
			if len(t.Payload) < KeysetOverhead+SignatureSize {
				return fmt.Errorf("%w: truncated", ErrMalformed)
			}
			n := len(t.Payload) - SignatureSize
			t.Payload, t.Signature = t.Payload[:n], t.Payload[n:]
		}
		if len(t.Payload) < KeysetOverhead {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		return nil
	}
	count := int(r.u8())
	if r.err == nil && (count < 1 || count > MaxWrappedKeys) {
		return malformed("%d wrapped keys", count)
	}
	for i := 0; i < count && r.err == nil; i++ {
		p := Provider(r.u8())
		id := r.bytes16(MaxKeyIDLen)
		ct := r.bytes16(MaxWrappedLen)
		if r.err != nil {
			break
		}
		if p != ProviderAWSKMS && p != ProviderInsecureLocal {
			return malformed("unknown key provider %d", p)
		}
		if len(id) == 0 || len(ct) == 0 {
			return malformed("empty wrapped key")
		}
		var old string
		if i < cap(t.Keys) {
			old = t.Keys[:i+1][i].KeyID
		}
		t.Keys = append(t.Keys, WrappedKey{Provider: p, KeyID: reuse(old, id), Ciphertext: ct})
	}
	t.Commitment = r.fixed(CommitmentSize)
	if t.Mode == ModeSignedEnvelope {
		t.VerifyingKey = r.fixed(VerifyingKeySize)
	}
	if r.err != nil {
		return r.err
	}
	t.Header = b[:r.off]
	t.Payload = b[r.off:]
	if t.Mode == ModeSignedEnvelope {
		// The signature is the last 64 bytes, always: there is no
		// length to lie about, and no other spelling.
		if len(t.Payload) < NonceSize+TagSize+SignatureSize {
			return malformed("truncated")
		}
		n := len(t.Payload) - SignatureSize
		t.Payload, t.Signature = t.Payload[:n], t.Payload[n:]
	}
	if len(t.Payload) < NonceSize+TagSize {
		return malformed("truncated")
	}
	return nil
}

// reuse returns old if it spells b, else a new string.
func reuse(old string, b []byte) string {
	if old == string(b) {
		return old
	}
	return string(b)
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.err = malformed("truncated")
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) u8() byte {
	v := r.fixed(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) bytes8() []byte {
	return r.fixed(int(r.u8()))
}

func (r *reader) bytes16(max int) []byte {
	l := r.fixed(2)
	if l == nil {
		return nil
	}
	n := int(binary.BigEndian.Uint16(l))
	if n > max {
		r.err = malformed("length %d over limit %d", n, max)
		return nil
	}
	return r.fixed(n)
}

// AppendHeader appends the encoded envelope header for the given class,
// wrapped keys and commitment. It panics on values that break the format's
// limits, which callers validate at configuration time.
func AppendHeader(dst []byte, class string, keys []WrappedKey, commitment []byte) []byte {
	if !ValidClass(class) || len(keys) < 1 || len(keys) > MaxWrappedKeys || len(commitment) != CommitmentSize {
		panic("format: invalid header fields")
	}
	dst = append(dst, Version1, byte(ModeEnvelope), byte(len(class)))
	dst = append(dst, class...)
	dst = append(dst, byte(len(keys)))
	for _, k := range keys {
		if len(k.KeyID) == 0 || len(k.KeyID) > MaxKeyIDLen || len(k.Ciphertext) == 0 || len(k.Ciphertext) > MaxWrappedLen {
			panic("format: invalid wrapped key")
		}
		dst = append(dst, byte(k.Provider))
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k.KeyID)))
		dst = append(dst, k.KeyID...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k.Ciphertext)))
		dst = append(dst, k.Ciphertext...)
	}
	return append(dst, commitment...)
}

// AppendSignedHeader appends the encoded header of a ModeSignedEnvelope
// token: as AppendHeader, with that mode, then the verifying key. It
// panics on values that break the format's limits.
func AppendSignedHeader(dst []byte, class string, keys []WrappedKey, commitment, verifyingKey []byte) []byte {
	if len(verifyingKey) != VerifyingKeySize {
		panic("format: invalid verifying key")
	}
	n := len(dst)
	dst = AppendHeader(dst, class, keys, commitment)
	dst[n+1] = byte(ModeSignedEnvelope)
	return append(dst, verifyingKey...)
}

// SigningLabel starts every message a signature of a signed mode signs
// (the mode is in the header, and so in the associated data).
const SigningLabel = "sfnenc v1 signed token\x00"

// AppendSigningMessage appends the message that a signed token's signature
// signs: SigningLabel, the u32 length of the associated data, the
// associated data, then sealed (the nonce, ciphertext and tag; for
// ModeSignedKeyset the salt, nonce, ciphertext and tag).
func AppendSigningMessage(dst, aad, sealed []byte) []byte {
	dst = append(dst, SigningLabel...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(aad)))
	dst = append(dst, aad...)
	return append(dst, sealed...)
}

// VerifyingKeyKey is the encryption context key under which the data key
// of a ModeSignedEnvelope token is bound to its verifying key (unpadded
// base64url of its 32 bytes).
const VerifyingKeyKey = "sfnenc:vk"

// SignedKeyContext returns the KMS encryption context of a signed data
// key: the key context plus VerifyingKeyKey.
func SignedKeyContext(keyContext map[string]string, verifyingKey []byte) map[string]string {
	m := make(map[string]string, len(keyContext)+1)
	for k, v := range keyContext {
		m[k] = v
	}
	m[VerifyingKeyKey] = base64.RawURLEncoding.EncodeToString(verifyingKey)
	return m
}

// AppendESDKHeader appends the header of a ModeESDK token: version, mode
// and class. The AWS Encryption SDK message follows it.
func AppendESDKHeader(dst []byte, class string) []byte {
	if !ValidClass(class) {
		panic("format: invalid class")
	}
	dst = append(dst, Version1, byte(ModeESDK), byte(len(class)))
	return append(dst, class...)
}

// AppendKeysetHeader appends the header of a ModeKeyset token: version,
// mode, class and key id. The sealed value follows it. It panics on an
// invalid class or a key id out of 1..MaxKeysetKeyID.
func AppendKeysetHeader(dst []byte, class string, keyID uint32) []byte {
	if !ValidClass(class) || keyID == 0 || keyID > MaxKeysetKeyID {
		panic("format: invalid keyset header fields")
	}
	dst = append(dst, Version1, byte(ModeKeyset), byte(len(class)))
	dst = append(dst, class...)
	return binary.BigEndian.AppendUint16(dst, uint16(keyID))
}

// AppendSignedKeysetHeader appends the header of a ModeSignedKeyset token:
// as AppendKeysetHeader, with that mode.
func AppendSignedKeysetHeader(dst []byte, class string, keyID uint32) []byte {
	n := len(dst)
	dst = AppendKeysetHeader(dst, class, keyID)
	dst[n+1] = byte(ModeSignedKeyset)
	return dst
}

// AppendText appends the text form of a token body to dst.
func AppendText(dst, body []byte) []byte {
	dst = append(dst, Prefix...)
	return appendBase64(dst, body)
}

// AppendTextMore appends to dst the encoding of more, the bytes of a body
// that follow a part whose length is a multiple of 3 and whose text
// AppendText has put at the end of dst. The result is the text of the whole
// body, so the text of a header that many tokens share is encoded once.
func AppendTextMore(dst, more []byte) []byte {
	return appendBase64(dst, more)
}

// b64Pairs holds the text of every 12-bit group: two characters of the
// base64url alphabet, the first in the low byte.
var b64Pairs = func() (t [1 << 12]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for v := range t {
		t[v] = uint16(alphabet[v>>6]) | uint16(alphabet[v&63])<<8
	}
	return t
}()

// appendBase64 appends the unpadded base64url encoding of src to dst, as
// b64.AppendEncode does (TestAppendBase64 holds it to that), six bytes at a
// time from one eight-byte load, two characters per table lookup: encoding
// took a tenth of Encrypt's instructions on a document of many small
// values.
func appendBase64(dst, src []byte) []byte {
	n := b64.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	for len(src) >= 8 && len(out) >= 8 {
		v := binary.BigEndian.Uint64(src)
		binary.LittleEndian.PutUint64(out, uint64(b64Pairs[v>>52])|
			uint64(b64Pairs[v>>40&0xfff])<<16|
			uint64(b64Pairs[v>>28&0xfff])<<32|
			uint64(b64Pairs[v>>16&0xfff])<<48)
		src, out = src[6:], out[8:]
	}
	b64.Encode(out, src) // the last 0 to 7 bytes
	return dst[:len(dst)+n]
}

// TextLen is the length of the text form of a body of n bytes.
func TextLen(n int) int { return len(Prefix) + b64.EncodedLen(n) }

// ClassKey is the encryption context key under which a token's class is
// bound. Keys starting with ReservedPrefix are refused in user contexts.
const (
	ClassKey       = "sfnenc:class"
	ReservedPrefix = "sfnenc:"
)

// ValidContext checks an encryption context for use with tokens: keys are
// non-empty, none uses a reserved prefix ("sfnenc:" for this format,
// "aws-crypto-" for the AWS Encryption SDK), and each key and value fits a
// u16 length.
func ValidContext(ec map[string]string) error {
	if len(ec) > 0xffff {
		return errors.New("too many encryption context entries")
	}
	for k, v := range ec {
		switch {
		case k == "":
			return errors.New("empty encryption context key")
		case strings.HasPrefix(k, ReservedPrefix), strings.HasPrefix(k, "aws-crypto-"):
			return fmt.Errorf("encryption context key %q uses a reserved prefix", k)
		case len(k) > 0xffff || len(v) > 0xffff:
			return fmt.Errorf("encryption context entry %q too long", k)
		}
	}
	return nil
}

// KeyContext returns the context bound to a data key of the given class: the
// configured context plus ClassKey. It is sent to KMS as the encryption
// context and is part of every token's associated data.
func KeyContext(ec map[string]string, class string) map[string]string {
	m := make(map[string]string, len(ec)+1)
	for k, v := range ec {
		m[k] = v
	}
	m[ClassKey] = class
	return m
}

// AppendContext appends the canonical encoding of an encryption context:
// u16 count, then for each entry in byte-wise order of keys, u16 key length,
// key, u16 value length, value.
func AppendContext(dst []byte, ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(keys)))
	for _, k := range keys {
		v := ec[k]
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// BindingKey is the encryption context key under which an ESDK-mode token
// carries its business-key binding.
const BindingKey = "sfnenc:bind"

// Binding kinds: the JSON type of a business key bound to a token.
const (
	BindString byte = 's'
	BindNumber byte = 'n'
)

// AppendAssociatedData appends the associated data of a token's AEAD: the
// header, the encoded key context, and, for a token bound to a business
// key, the binding: u8 kind (BindString or BindNumber), u32 length, and the
// value (a string's decoded content, or a number's text as written).
func AppendAssociatedData(dst, header, context []byte, kind byte, binding []byte) []byte {
	dst = append(append(dst, header...), context...)
	if kind == 0 {
		return dst
	}
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(binding)))
	return append(dst, binding...)
}

// DecodeMore decodes more, the text of a body that follows a part whose
// length is a multiple of 3 (the inverse of AppendTextMore), appending the
// bytes to dst. It accepts only the canonical encoding, as Decode does.
func DecodeMore(dst, more []byte) ([]byte, error) {
	n := b64.DecodedLen(len(more))
	if b64.EncodedLen(n) != len(more) {
		return dst, fmt.Errorf("%w: bad base64 length", ErrMalformed)
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	m, err := b64.Decode(dst[start:], more)
	if err != nil || m != n {
		return dst[:start], fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return dst, nil
}

// HeaderTextLen is the length of the text (prefix included) that encodes
// the first header bytes of a token whose header is h bytes: the longest
// part whose length is a multiple of 3, whose text does not depend on the
// bytes that follow. Tokens that share a header share this text.
func HeaderTextLen(h int) int { return len(Prefix) + h/3*4 }
