package esdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Constants of the message format that this package writes and accepts.
const (
	messageVersion2 = 0x02
	suiteID         = 0x0478 // ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY
	suiteIDString   = "0x0478"
	messageIDLen    = 32
	commitKeyLen    = 32 // algorithm suite data of 0x0478: the commitment key
	headerAuthLen   = 16 // version 2 header authentication: the GCM tag only
	kmsProviderID   = "aws-kms"
	contentFramed   = 0x02
	contentNoFrames = 0x01
)

// header is what Decrypt reads from a message before it calls KMS: enough to
// refuse a message by version, algorithm suite, encryption context or keys
// without spending a KMS request. The ESDK parses the header again and
// authenticates it; nothing here is trusted beyond that refusal.
type header struct {
	suite   uint16
	context map[string]string
	edks    []edk
}

// edk is the public part of one encrypted data key entry.
type edk struct {
	providerID   string
	providerInfo string // for aws-kms: the KMS key ARN that wrapped the data key
}

// errShort reports a header that ends early; callers wrap it.
var errShort = errors.New("header truncated")

// reader reads big-endian fields from a byte slice and remembers the first
// error, so parse can check it once per section.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w at offset %d", errShort, r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() int {
	b := r.next(1)
	if b == nil {
		return 0
	}
	return int(b[0])
}

func (r *reader) u16() int {
	b := r.next(2)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

// bytes16 reads a field with a 2-byte length prefix.
func (r *reader) bytes16() []byte { return r.next(r.u16()) }

// parseHeader reads a version 2 message header up to and including the
// header authentication tag. It refuses version 1 messages and any algorithm
// suite other than 0x0478 before reading further, and refuses more than
// maxEDKs encrypted data keys. Errors wrap ErrUnsupportedMessage and name
// offsets and lengths only.
func parseHeader(msg []byte, maxEDKs int) (*header, error) {
	r := &reader{b: msg}
	if v := r.u8(); r.err == nil && v != messageVersion2 {
		return nil, fmt.Errorf("%w: message format version %d, want 2", ErrUnsupportedMessage, v)
	}
	h := &header{suite: uint16(r.u16())}
	if r.err == nil && h.suite != suiteID {
		return nil, fmt.Errorf("%w: algorithm suite 0x%04x, want %s", ErrUnsupportedMessage, h.suite, suiteIDString)
	}
	r.next(messageIDLen)

	// AAD section: its length, then (only if the length is not zero) the
	// pair count and the pairs, which must fill the section exactly.
	aad := r.bytes16()
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedMessage, r.err)
	}
	ctx, err := parseAAD(aad)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption context: %w", ErrUnsupportedMessage, err)
	}
	h.context = ctx

	n := r.u16()
	if r.err == nil && (n == 0 || n > maxEDKs) {
		return nil, fmt.Errorf("%w: %d encrypted data keys, want 1 to %d", ErrUnsupportedMessage, n, maxEDKs)
	}
	for i := 0; i < n && r.err == nil; i++ {
		id := r.bytes16()
		info := r.bytes16()
		r.bytes16() // the wrapped data key itself: never looked at here
		h.edks = append(h.edks, edk{providerID: string(id), providerInfo: string(info)})
	}
	ct := r.u8()
	r.next(4) // frame length
	r.next(commitKeyLen)
	r.next(headerAuthLen)
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedMessage, r.err)
	}
	if ct != contentFramed && ct != contentNoFrames {
		return nil, fmt.Errorf("%w: content type %d", ErrUnsupportedMessage, ct)
	}
	return h, nil
}

// parseAAD reads the serialized encryption context of a header: a 2-byte
// pair count, then for each pair a 2-byte key length, the key, a 2-byte value
// length and the value, all UTF-8. An empty section is an empty context.
func parseAAD(b []byte) (map[string]string, error) {
	ctx := map[string]string{}
	if len(b) == 0 {
		return ctx, nil
	}
	r := &reader{b: b}
	n := r.u16()
	for i := 0; i < n && r.err == nil; i++ {
		k, v := r.bytes16(), r.bytes16()
		if r.err != nil {
			break
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return nil, fmt.Errorf("pair %d is not UTF-8", i)
		}
		if _, dup := ctx[string(k)]; dup {
			return nil, fmt.Errorf("pair %d repeats a key", i)
		}
		ctx[string(k)] = string(v)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("%d bytes after %d pairs", len(b)-r.off, n)
	}
	if n == 0 {
		return nil, errors.New("section present with zero pairs")
	}
	return ctx, nil
}
