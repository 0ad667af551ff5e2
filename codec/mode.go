package codec

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/internal/datakey"
	"github.com/sfnenc/sfnenc/internal/format"
)

// A tokenMode makes and opens the tokens of one keyring and format: the
// envelope, ESDK and keyset modes each implement it once, so that Encrypt
// and Decrypt never ask which mode a rule uses (as age puts its recipients
// behind one interface). A rule writes with its own tokenMode and reads
// with it and those of its "read" list.
type tokenMode interface {
	// mode is the format mode of the tokens it makes and opens.
	mode() format.Mode
	// chunked reports whether one sealer may seal only as many values and
	// bytes as the encrypt cache's limits allow (a cached data key), so
	// that Encrypt splits a rule's values among several sealers.
	chunked() bool
	// sealer returns what seals uses values of bytes plaintext bytes of
	// rule r in one document, bound to b. It may call the key service.
	sealer(ctx context.Context, c *Codec, r *rule, b binding, uses, bytes uint64, rep *Report) (tokenSealer, error)
	// mayOpen reports, without a key service call, whether tok (of this
	// mode) may be one that open opens: Encrypt passes such tokens on.
	mayOpen(tok *format.Token) bool
	// open returns the plaintext of tok, a parsed token of this mode and of
	// r's class, bound to b. The plaintext may alias d's scratch space.
	open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error)
}

// A tokenSealer makes tokens for one rule, document and data key (or
// keyset key). It belongs to one call and is not safe for concurrent use.
type tokenSealer interface {
	// textLen is the length of the text of a token whose plaintext has n
	// bytes (prefix included, quotes not), or -1 if only sealing tells.
	textLen(n int) int
	// seal appends the text of a token (prefix included) for pt to dst.
	// nonces may be nil.
	seal(ctx context.Context, dst, pt []byte, nonces *datakey.Nonces) ([]byte, error)
}

// headerText is the text form of a header that every token of a sealer
// shares: text encodes header[:n], the longest part whose length is a
// multiple of 3, whose base64 does not depend on the bytes that follow.
type headerText struct {
	header, aad []byte
	text        []byte
	n           int
	body        []byte // scratch
}

func newHeaderText(h []byte, r *rule, b binding) headerText {
	n := len(h) / 3 * 3
	return headerText{
		header: h,
		aad:    format.AppendAssociatedData(nil, h, b.contextBytes(r), b.kind, b.value),
		text:   format.AppendText(nil, h[:n]),
		n:      n,
	}
}

// appendText appends the text of the token whose body is the header
// followed by more... (more is appended to the scratch body by fill).
func (h *headerText) appendText(dst []byte, fill func(body []byte) ([]byte, error)) ([]byte, error) {
	body, err := fill(append(h.body[:0], h.header[h.n:]...))
	if err != nil {
		return nil, err
	}
	h.body = body
	dst = append(dst, h.text...)
	return format.AppendTextMore(dst, body), nil
}

// envelopeMode is mode 0x01: a data key per chunk of values, made by a
// keyring and carried wrapped in each token.
type envelopeMode struct {
	kr envelope.Keyring
}

func (envelopeMode) mode() format.Mode { return format.ModeEnvelope }
func (envelopeMode) chunked() bool     { return true }

func (m envelopeMode) sealer(ctx context.Context, c *Codec, r *rule, b binding, uses, bytes uint64, rep *Report) (tokenSealer, error) {
	dk, hit, err := c.enc.DataKey(ctx, b.partition(r), m.kr, b.keyContext(r), uses, bytes)
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	rep.key(hit)
	return &envelopeSealer{dk: dk, headerText: newHeaderText(format.AppendHeader(nil, r.class, dk.Wrapped(), dk.Commitment()), r, b)}, nil
}

// owner is the optional keyring method that says, without a key service
// call, whether a wrapped key is the keyring's own.
type owner interface {
	Owns(envelope.WrappedKey) bool
}

func (m envelopeMode) mayOpen(tok *format.Token) bool { return mayHold(m.kr, tok) }

// mayHold reports whether the token's wrapped keys include one of the
// keyring's keys. A keyring that cannot say is assumed to hold one.
func mayHold(kr envelope.Keyring, tok *format.Token) bool {
	o, ok := kr.(owner)
	if !ok {
		return true
	}
	for _, w := range tok.Keys {
		if o.Owns(w) {
			return true
		}
	}
	return false
}

func (m envelopeMode) open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error) {
	// The keyring says whether it holds a key for the token (a
	// multi-keyring reads through its primary key only): without one it
	// answers ErrNoKey without calling its key service.
	d.id = append(append(d.id[:0], tok.Header...), b.contextBytes(r)...)
	dk, hit, err := d.c.dec.DataKey(d.ctx, d.id, m.kr, tok.Keys, b.keyContext(r))
	if err != nil {
		return nil, err
	}
	d.rep.key(hit)
	// The cache knows the data key by header and context; the
	// associated data adds the business key, if the rule binds one.
	d.aad = format.AppendAssociatedData(d.aad[:0], tok.Header, b.contextBytes(r), b.kind, b.value)
	pt, err := openData(d, dk, tok)
	if err == nil {
		d.opened = dk
	}
	return pt, err
}

type envelopeSealer struct {
	dk *datakey.Key
	headerText
}

func (s *envelopeSealer) textLen(n int) int {
	return format.TextLen(len(s.header) + format.NonceSize + format.TagSize + n)
}

func (s *envelopeSealer) seal(_ context.Context, dst, pt []byte, nonces *datakey.Nonces) ([]byte, error) {
	return s.appendText(dst, func(body []byte) ([]byte, error) {
		return s.dk.SealWith(nonces, body, pt, s.aad), nil
	})
}

// signedEnvelopeMode is mode 0x04: mode 0x01 with an Ed25519 key pair per
// data key, whose public key is bound into the data key's encryption
// context, and a signature per token (SECURITY.md, "Signed classes").
type signedEnvelopeMode struct {
	envelopeMode // chunked and mayOpen
}

func (signedEnvelopeMode) mode() format.Mode { return format.ModeSignedEnvelope }

func (m signedEnvelopeMode) sealer(ctx context.Context, c *Codec, r *rule, b binding, uses, bytes uint64, rep *Report) (tokenSealer, error) {
	// A partition of its own: a data key made for signing carries its
	// verifying key in its context, and one made without does not.
	dk, hit, err := c.enc.SignedDataKey(ctx, b.partition(r)+"\x00signed", m.kr, b.keyContext(r), uses, bytes, format.SignedKeyContext)
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	rep.key(hit)
	h := format.AppendSignedHeader(nil, r.class, dk.Wrapped(), dk.Commitment(), dk.VerifyingKey())
	return &signedSealer{dk: dk, headerText: newHeaderText(h, r, b)}, nil
}

// open checks the signature first, with no key service call, then unwraps
// the data key under the verifying key the header names, and opens.
func (m signedEnvelopeMode) open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error) {
	d.aad = format.AppendAssociatedData(d.aad[:0], tok.Header, b.contextBytes(r), b.kind, b.value)
	d.msg = format.AppendSigningMessage(d.msg[:0], d.aad, tok.Payload)
	// crypto/ed25519 refuses a non-canonical S; the signature and the
	// key are 64 and 32 bytes by the format.
	if !ed25519.Verify(tok.VerifyingKey, d.msg, tok.Signature) {
		return nil, ErrForged
	}
	cb := b.contextBytes(r)
	d.id = append(append(d.id[:0], tok.Header...), cb...)
	// Tokens of one data key share its verifying key, and so its context.
	if !bytes.Equal(d.signedCB, cb) || !bytes.Equal(d.signedVK, tok.VerifyingKey) {
		d.signedCB, d.signedVK = append(d.signedCB[:0], cb...), append(d.signedVK[:0], tok.VerifyingKey...)
		d.signedCtx = format.SignedKeyContext(b.keyContext(r), tok.VerifyingKey)
	}
	dk, hit, err := d.c.dec.DataKey(d.ctx, d.id, m.kr, tok.Keys, d.signedCtx)
	if errors.Is(err, envelope.ErrInvalidKey) {
		// The data key was not made under this verifying key: the
		// header's key was swapped for one whose private key the
		// forger holds (or the wrapped key was damaged).
		return nil, fmt.Errorf("%w: %w", ErrForged, err)
	}
	if err != nil {
		return nil, err
	}
	d.rep.key(hit)
	return openData(d, dk, tok)
}

// openData checks an envelope token's commitment against its data key and
// opens its sealed value with the associated data in d.aad.
func openData(d *decryptor, dk *datakey.Key, tok *format.Token) ([]byte, error) {
	pt, err := dk.Open(d.pt[:0], tok.Commitment, tok.Payload, d.aad)
	if err != nil {
		// Authentication failed after a key opened: never try another.
		return nil, ErrAuthentication
	}
	d.pt = pt[:0]
	return pt, nil
}

type signedSealer struct {
	dk  *datakey.Key
	msg []byte // scratch
	headerText
}

func (s *signedSealer) textLen(n int) int {
	return format.TextLen(len(s.header) + format.NonceSize + format.TagSize + n + format.SignatureSize)
}

func (s *signedSealer) seal(_ context.Context, dst, pt []byte, nonces *datakey.Nonces) ([]byte, error) {
	return s.appendText(dst, func(body []byte) ([]byte, error) {
		rest := len(body)
		body = s.dk.SealWith(nonces, body, pt, s.aad)
		s.msg = format.AppendSigningMessage(s.msg[:0], s.aad, body[rest:])
		return s.dk.Sign(body, s.msg), nil
	})
}

// esdkMode is mode 0x02: each token is an AWS Encryption SDK message with
// its own data key.
type esdkMode struct {
	s envelope.MessageSealer
}

func (esdkMode) mode() format.Mode              { return format.ModeESDK }
func (esdkMode) chunked() bool                  { return false }
func (esdkMode) mayOpen(tok *format.Token) bool { return true }

func (m esdkMode) sealer(_ context.Context, _ *Codec, r *rule, b binding, _, _ uint64, _ *Report) (tokenSealer, error) {
	return &esdkSealer{m: m, r: r, ec: r.esdkContext(b)}, nil
}

func (m esdkMode) open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error) {
	pt, err := m.s.Decrypt(d.ctx, tok.Payload, r.esdkContext(b))
	if errors.Is(err, envelope.ErrOpen) {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return pt, err
}

type esdkSealer struct {
	m    esdkMode
	r    *rule
	ec   map[string]string
	body []byte
}

func (s *esdkSealer) textLen(int) int { return -1 }

func (s *esdkSealer) seal(ctx context.Context, dst, pt []byte, _ *datakey.Nonces) ([]byte, error) {
	msg, err := s.m.s.Encrypt(ctx, pt, s.ec)
	if err != nil {
		return nil, &DataKeyError{Class: s.r.class, Err: err}
	}
	s.body = append(format.AppendESDKHeader(s.body[:0], s.r.class), msg...)
	return format.AppendText(dst, s.body), nil
}

// keysetMode is mode 0x03: the class's keyset, decrypted by KMS once per
// process, seals every value.
type keysetMode struct {
	st *keyset.Store
}

func (keysetMode) mode() format.Mode              { return format.ModeKeyset }
func (keysetMode) chunked() bool                  { return false }
func (keysetMode) mayOpen(tok *format.Token) bool { return true }

// sealer loads the keyset of r's class (one KMS Decrypt the first time in
// the process) and returns a sealer over its primary key.
func (m keysetMode) sealer(ctx context.Context, c *Codec, r *rule, b binding, _, _ uint64, _ *Report) (tokenSealer, error) {
	ks, err := m.st.Load(ctx, r.class, c.ec)
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	return &keysetSealer{ks: ks, class: r.class, headerText: newHeaderText(format.AppendKeysetHeader(nil, r.class, ks.Primary()), r, b)}, nil
}

// open opens a ModeKeyset token with the keyset of its class.
func (m keysetMode) open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error) {
	ks, err := m.st.Load(d.ctx, r.class, d.c.ec)
	if err != nil {
		return nil, err
	}
	d.aad = format.AppendAssociatedData(d.aad[:0], tok.Header, b.contextBytes(r), b.kind, b.value)
	return openKeyset(d, ks, tok)
}

// openKeyset opens a keyset-mode token's sealed value with ks and the
// associated data in d.aad.
func openKeyset(d *decryptor, ks *keyset.Keyset, tok *format.Token) ([]byte, error) {
	pt, err := ks.Open(d.pt[:0], tok.KeyID, tok.Payload, d.aad)
	if errors.Is(err, envelope.ErrOpen) {
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	if err != nil {
		return nil, err
	}
	d.pt = pt[:0]
	return pt, nil
}

type keysetSealer struct {
	ks    *keyset.Keyset
	class string
	headerText
}

func (s *keysetSealer) textLen(n int) int {
	return format.TextLen(len(s.header) + format.KeysetOverhead + n)
}

func (s *keysetSealer) seal(_ context.Context, dst, pt []byte, _ *datakey.Nonces) ([]byte, error) {
	out, err := s.appendText(dst, func(body []byte) ([]byte, error) {
		return s.ks.Seal(body, pt, s.aad)
	})
	if err != nil {
		return nil, &DataKeyError{Class: s.class, Err: err}
	}
	return out, nil
}

// signedKeysetMode is mode 0x05: mode 0x03 with a signature by the signing
// key of the keyset key, which only the writers' copies of the class's
// keyset file hold (SECURITY.md, "Signed classes").
type signedKeysetMode struct {
	keysetMode // chunked and mayOpen
}

func (signedKeysetMode) mode() format.Mode { return format.ModeSignedKeyset }

// sealer loads a writer's copy of the class's keyset (one KMS Decrypt the
// first time in the process).
func (m signedKeysetMode) sealer(ctx context.Context, c *Codec, r *rule, b binding, _, _ uint64, _ *Report) (tokenSealer, error) {
	ks, err := m.st.LoadWriter(ctx, r.class, c.ec)
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	h := format.AppendSignedKeysetHeader(nil, r.class, ks.Primary())
	return &signedKeysetSealer{keysetSealer: keysetSealer{ks: ks, class: r.class, headerText: newHeaderText(h, r, b)}}, nil
}

// open checks the signature with the verifying key of the token's key
// before it opens.
func (m signedKeysetMode) open(d *decryptor, r *rule, tok *format.Token, b binding) ([]byte, error) {
	ks, err := m.st.Load(d.ctx, r.class, d.c.ec)
	if err != nil {
		return nil, err
	}
	vk, err := ks.VerifyingKey(tok.KeyID)
	if err != nil {
		return nil, err
	}
	d.aad = format.AppendAssociatedData(d.aad[:0], tok.Header, b.contextBytes(r), b.kind, b.value)
	d.msg = format.AppendSigningMessage(d.msg[:0], d.aad, tok.Payload)
	if !ed25519.Verify(vk, d.msg, tok.Signature) {
		return nil, ErrForged
	}
	return openKeyset(d, ks, tok)
}

type signedKeysetSealer struct {
	keysetSealer
	msg []byte // scratch
}

func (s *signedKeysetSealer) textLen(n int) int {
	return format.TextLen(len(s.header) + format.KeysetOverhead + n + format.SignatureSize)
}

func (s *signedKeysetSealer) seal(_ context.Context, dst, pt []byte, _ *datakey.Nonces) ([]byte, error) {
	out, err := s.appendText(dst, func(body []byte) ([]byte, error) {
		rest := len(body)
		body, err := s.ks.Seal(body, pt, s.aad)
		if err != nil {
			return nil, err
		}
		s.msg = format.AppendSigningMessage(s.msg[:0], s.aad, body[rest:])
		return s.ks.Sign(body, s.msg)
	})
	if err != nil {
		return nil, &DataKeyError{Class: s.class, Err: err}
	}
	return out, nil
}
