package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/format"
)

// Errors callers branch on. Token failures come as a *TokenError that wraps
// one of ErrMalformedToken, ErrAuthentication or a key error from package
// envelope (envelope.ErrNoKey, ErrDenied, ErrInvalidKey, ErrUnavailable).
var (
	// ErrInvalidDocument: the input is not a JSON document the codec
	// accepts (syntax, duplicate names, invalid UTF-8, too deep). The
	// error also wraps the fieldpath sentinel that says which.
	ErrInvalidDocument = errors.New("codec: invalid JSON document")
	// ErrTooLarge: the input is longer than the size limit (WithLimits);
	// it may well be valid JSON.
	ErrTooLarge = errors.New("codec: document over the size limit")
	// ErrMalformedToken: a string has the token prefix but is not a
	// well-formed token of a known version and mode. It and
	// ErrAuthentication come inside a *TokenError, whose message starts
	// with the package name, so theirs do not repeat it.
	ErrMalformedToken = errors.New("malformed token")
	// ErrAuthentication: a token's data key was unwrapped but its value
	// failed authentication (altered, or bound to another context or
	// class), or the decrypted value is not JSON.
	ErrAuthentication = errors.New("token failed authentication")
	// ErrOutputTooLarge: the encrypted document would be larger than the
	// size limit, so that Decrypt would refuse it. Nothing is returned.
	ErrOutputTooLarge = errors.New("codec: encrypted document would exceed the size limit")
	// ErrUnknownClass: EncryptValue was asked for a class no rule has.
	ErrUnknownClass = errors.New("codec: unknown class")
)

// TokenError reports a token that could not be made or read. It names the
// value by JSON Pointer and the token's class when known; it never holds the
// value.
type TokenError struct {
	Pointer string // RFC 6901 pointer of the value in the document
	Class   string // the token's class, if the token could be parsed
	Err     error
}

func (e *TokenError) Error() string {
	where := e.Pointer
	if where == "" {
		where = "(root)"
	}
	if e.Class != "" {
		return fmt.Sprintf("codec: token at %s (class %s): %v", where, e.Class, e.Err)
	}
	return fmt.Sprintf("codec: token at %s: %v", where, e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// Codec encrypts and decrypts JSON documents by a Config. It is safe for
// concurrent use; build one per process and reuse it, so that its key caches
// work.
type Codec struct {
	rules   []*rule
	byClass map[string]*rule
	sels    []*fieldpath.Selector
	selRule []int // sels[i] belongs to rules[selRule[i]]
	reader  envelope.Keyring
	enc     *envelope.EncryptCache
	dec     *envelope.DecryptCache
	ec      map[string]string
	allow   map[string]bool // classes to decrypt; nil means all
	limits  fieldpath.Limits

	ctxMu    sync.Mutex
	ctxBytes map[string][]byte // class -> encoded key context, for classes without a rule

	esdkReader envelope.MessageSealer // nil without WithESDK
}

type rule struct {
	class     string
	kr        envelope.Keyring
	pad       int
	kctx      map[string]string      // key context: configured context + class
	ctxBytes  []byte                 // its canonical encoding
	partition string                 // encrypt cache partition: keyring name + ctxBytes
	esdk      envelope.MessageSealer // set for rules of format "esdk"
}

// Option configures a Codec.
type Option func(*options) error

type options struct {
	clients    func(region string) envelope.KMSClient
	keyrings   map[string]envelope.Keyring
	classes    []string
	encLimits  envelope.CacheLimits
	decLimits  envelope.CacheLimits
	docLimits  fieldpath.Limits
	setClasses bool
	esdk       func(keyARNs []string) (envelope.MessageSealer, error)
}

// WithESDK enables rules of format "esdk" and the decryption of tokens of
// that mode, with sealers made by newSealer for a list of KMS key ARNs
// (esdk.Factory makes it). Without it, a configuration with such a rule is
// refused, and such tokens fail to decrypt with envelope.ErrNoKey.
func WithESDK(newSealer func(keyARNs []string) (envelope.MessageSealer, error)) Option {
	return func(o *options) error { o.esdk = newSealer; return nil }
}

// WithKMSClients sets how KMS clients are made, by region (see
// envelope.KMSClients). By default the standard AWS configuration is
// loaded, the first time a KMS keyring is needed.
func WithKMSClients(f func(region string) envelope.KMSClient) Option {
	return func(o *options) error { o.clients = f; return nil }
}

// WithKeyring replaces the keyring the configuration names name with kr.
func WithKeyring(name string, kr envelope.Keyring) Option {
	return func(o *options) error {
		if o.keyrings == nil {
			o.keyrings = map[string]envelope.Keyring{}
		}
		o.keyrings[name] = kr
		return nil
	}
}

// WithClasses limits decryption to tokens of the given classes (need to
// know): tokens of other classes are left as they are, byte for byte.
func WithClasses(classes ...string) Option {
	return func(o *options) error {
		for _, c := range classes {
			if !format.ValidClass(c) {
				return fmt.Errorf("codec: invalid class name %q", c)
			}
		}
		o.classes, o.setClasses = classes, true
		return nil
	}
}

// WithCacheLimits sets the limits of the encrypt-side data-key cache and the
// decrypt-side unwrapped-key cache (zero fields: defaults).
func WithCacheLimits(encrypt, decrypt envelope.CacheLimits) Option {
	return func(o *options) error { o.encLimits, o.decLimits = encrypt, decrypt; return nil }
}

// WithLimits sets the document size and depth limits (zero fields:
// fieldpath defaults).
func WithLimits(l fieldpath.Limits) Option {
	return func(o *options) error { o.docLimits = l; return nil }
}

// New builds a Codec from a configuration. It checks cfg, opens local
// keysets and prepares KMS clients, but makes no KMS call.
func New(ctx context.Context, cfg *Config, opts ...Option) (*Codec, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Codec{
		byClass:  map[string]*rule{},
		ec:       cfg.EncryptionContext,
		limits:   o.docLimits,
		ctxBytes: map[string][]byte{},
	}
	var err error
	if c.enc, err = envelope.NewEncryptCache(o.encLimits); err != nil {
		return nil, err
	}
	if c.dec, err = envelope.NewDecryptCache(o.decLimits); err != nil {
		return nil, err
	}
	if o.setClasses {
		c.allow = map[string]bool{}
		for _, cl := range o.classes {
			c.allow[cl] = true
		}
	}
	krs, err := buildKeyrings(ctx, cfg, &o)
	if err != nil {
		return nil, err
	}
	var all []envelope.Keyring
	for _, name := range sortedKeys(krs) {
		all = append(all, krs[name])
	}
	c.reader = envelope.Union(all...)
	if o.esdk != nil {
		var arns []string
		for _, name := range sortedKeys(cfg.Keyrings) {
			if k := cfg.Keyrings[name].KMS; k != nil {
				arns = append(arns, k.KeyARN)
				arns = append(arns, k.BreakGlassKeyARNs...)
			}
		}
		if len(arns) > 0 {
			if c.esdkReader, err = o.esdk(slices.Compact(slices.Sorted(slices.Values(arns)))); err != nil {
				return nil, &ConfigError{Field: "keyrings", Err: err}
			}
		}
	}
	for i, r := range cfg.Rules {
		kctx := format.KeyContext(cfg.EncryptionContext, r.Class)
		cb := format.AppendContext(nil, kctx)
		ru := &rule{
			class:     r.Class,
			kr:        krs[r.Keyring],
			pad:       r.Pad,
			kctx:      kctx,
			ctxBytes:  cb,
			partition: r.Keyring + "\x00" + string(cb),
		}
		if r.Format == "esdk" {
			if o.esdk == nil {
				return nil, &ConfigError{Field: fmt.Sprintf("rules[%d].format", i), Err: errors.New("format \"esdk\" needs codec.WithESDK (see package envelope/esdk)")}
			}
			k := cfg.Keyrings[r.Keyring].KMS
			if ru.esdk, err = o.esdk(append([]string{k.KeyARN}, k.BreakGlassKeyARNs...)); err != nil {
				return nil, &ConfigError{Field: fmt.Sprintf("rules[%d]", i), Err: err}
			}
		}
		c.rules = append(c.rules, ru)
		c.byClass[r.Class] = ru
		for _, s := range cfg.selectors[i] {
			c.sels = append(c.sels, s)
			c.selRule = append(c.selRule, i)
		}
	}
	return c, nil
}

func buildKeyrings(ctx context.Context, cfg *Config, o *options) (map[string]envelope.Keyring, error) {
	krs := map[string]envelope.Keyring{}
	for _, name := range sortedKeys(cfg.Keyrings) {
		if kr, ok := o.keyrings[name]; ok {
			krs[name] = kr
			continue
		}
		kc := cfg.Keyrings[name]
		if kc.InsecureLocalKeyset != "" {
			kr, err := envelope.LoadInsecureLocalKeyset(cfg.path(kc.InsecureLocalKeyset))
			if err != nil {
				return nil, &ConfigError{Field: "keyrings." + name, Err: err}
			}
			krs[name] = kr
			continue
		}
		if o.clients == nil {
			f, err := envelope.DefaultKMSClients(ctx)
			if err != nil {
				return nil, err
			}
			o.clients = f
		}
		var ks []envelope.Keyring
		for _, a := range append([]string{kc.KMS.KeyARN}, kc.KMS.BreakGlassKeyARNs...) {
			region, _ := envelope.ParseKeyARN(a) // checked by Validate
			k, err := envelope.NewKMS(o.clients(region), a)
			if err != nil {
				return nil, &ConfigError{Field: "keyrings." + name, Err: err}
			}
			ks = append(ks, k)
		}
		krs[name] = envelope.Multi(ks[0], ks[1:]...)
	}
	for name := range o.keyrings {
		if _, ok := cfg.Keyrings[name]; !ok {
			return nil, &ConfigError{Field: "keyrings", Err: fmt.Errorf("WithKeyring names %q, which the configuration lacks", name)}
		}
	}
	return krs, nil
}

// Stats reports what the codec's key caches did.
type Stats struct {
	Encrypt, Decrypt envelope.Stats
}

// Stats returns counts of cache hits, misses and keyring calls so far.
func (c *Codec) Stats() Stats { return Stats{Encrypt: c.enc.Stats(), Decrypt: c.dec.Stats()} }

func (c *Codec) scan(src []byte) (*fieldpath.Document, error) {
	doc, err := fieldpath.Scan(src, c.limits)
	if errors.Is(err, fieldpath.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), c.maxSize())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	return doc, nil
}

// tokenText returns the text of a string node if it claims to be a token
// (starts with the prefix once unescaped). Escaped strings are unescaped
// into *buf; otherwise the text aliases src.
func tokenText(doc *fieldpath.Document, src []byte, n int, buf *[]byte) ([]byte, bool) {
	start, end := doc.Raw(n)
	content := src[start+1 : end-1]
	if bytes.IndexByte(content, '\\') < 0 {
		return content, bytes.HasPrefix(content, []byte(format.Prefix))
	}
	*buf = doc.AppendString((*buf)[:0], n)
	return *buf, format.IsToken(*buf)
}

// Encrypt returns doc with every value selected by the rules replaced by a
// token; all other bytes stay as they were. Values that already are tokens
// are left as they are. Where selected values nest, the outermost becomes
// the token, with the class of the first rule that selects it. On error
// nothing is returned.
func (c *Codec) Encrypt(ctx context.Context, src []byte) ([]byte, error) {
	doc, err := c.scan(src)
	if err != nil {
		return nil, err
	}
	defer doc.Release()
	matches, err := doc.Select(c.sels)
	if err != nil {
		// Fail closed: a selector that cannot be evaluated must not
		// leave its values in plaintext.
		return nil, fmt.Errorf("codec: %w", err)
	}
	type edit struct {
		start, end int
		rule       int
		chunk      int
	}
	edits := make([]edit, 0, len(matches))
	var scratch []byte
	for _, m := range matches {
		n := m.Node
		if doc.Kind(n) == fieldpath.String {
			text, isTok := tokenText(doc, src, n, &scratch)
			if isTok {
				if _, err := format.Decode(text, nil); err != nil {
					return nil, &TokenError{Pointer: doc.Pointer(n), Err: fmt.Errorf("%w: %w", ErrMalformedToken, err)}
				}
				continue // already encrypted
			}
		}
		start, end := doc.Raw(n)
		edits = append(edits, edit{start: start, end: end, rule: c.selRule[m.Selector]})
	}
	if len(edits) == 0 {
		return bytes.Clone(src), nil
	}

	// Split each rule's values into chunks that one data key may seal,
	// then get one data key per chunk.
	type chunkInfo struct{ uses, bytes uint64 }
	chunks := make([][]chunkInfo, len(c.rules))
	maxUses := c.enc.MaxUses()
	for i := range edits {
		e := &edits[i]
		r := c.rules[e.rule]
		size := uint64(padded(e.end-e.start, r.pad))
		cs := chunks[e.rule]
		if len(cs) == 0 || cs[len(cs)-1].uses == maxUses || cs[len(cs)-1].bytes+size > envelope.DefaultMaxBytes {
			cs = append(cs, chunkInfo{})
		}
		cs[len(cs)-1].uses++
		cs[len(cs)-1].bytes += size
		chunks[e.rule] = cs
		e.chunk = len(cs) - 1
	}
	sealers := make([][]*sealer, len(c.rules))
	outLen := len(src)
	for ri, cs := range chunks {
		r := c.rules[ri]
		if r.esdk != nil {
			continue // each message makes its own data key
		}
		for _, ch := range cs {
			dk, err := c.enc.DataKey(ctx, r.partition, r.kr, r.kctx, ch.uses, ch.bytes)
			if err != nil {
				return nil, &TokenError{Class: r.class, Err: err}
			}
			sealers[ri] = append(sealers[ri], newSealer(r, dk))
		}
	}
	for _, e := range edits {
		if c.rules[e.rule].esdk != nil {
			continue // sizes unknown; append grows out
		}
		s := sealers[e.rule][e.chunk]
		outLen += 2 + format.TextLen(len(s.header)+format.NonceSize+padded(e.end-e.start, c.rules[e.rule].pad)+format.TagSize) - (e.end - e.start)
	}
	if outLen > c.maxSize() {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, outLen, c.maxSize())
	}
	out := make([]byte, 0, outLen)
	last := 0
	var body, pt []byte
	var nonces *envelope.Nonces
	if len(edits) > 1 {
		nonces = new(envelope.Nonces) // one crypto/rand read per 256 tokens
	}
	for _, e := range edits {
		out = append(out, src[last:e.start]...)
		r := c.rules[e.rule]
		pt = padTo(append(pt[:0], src[e.start:e.end]...), r.pad)
		out = append(out, '"')
		if r.esdk != nil {
			if body, err = c.sealESDK(ctx, r, body[:0], pt); err != nil {
				clear(pt)
				return nil, err
			}
			out = format.AppendText(out, body)
		} else {
			// The text of the header up to s.textLen is the same for
			// every token of the sealer: only the rest is encoded here.
			s := sealers[e.rule][e.chunk]
			body = s.dk.SealWith(nonces, append(body[:0], s.header[s.textLen:]...), pt, s.aad)
			out = append(out, s.text...)
			out = format.AppendTextMore(out, body)
		}
		out = append(out, '"')
		last = e.end
	}
	clear(pt)
	out = append(out, src[last:]...)
	if len(out) > c.maxSize() { // ESDK tokens' sizes are known only now
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, len(out), c.maxSize())
	}
	return out, nil
}

// maxSize is the document size limit in force.
func (c *Codec) maxSize() int {
	if c.limits.MaxSize > 0 {
		return c.limits.MaxSize
	}
	return fieldpath.DefaultMaxSize
}

// EncryptValue returns the token (its text, without JSON quotes) for one
// JSON value, as the rule for class would make it. The value must be a
// valid JSON text.
func (c *Codec) EncryptValue(ctx context.Context, class string, value []byte) (string, error) {
	r, ok := c.byClass[class]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownClass, class)
	}
	doc, err := c.scan(value)
	if err != nil {
		return "", err
	}
	doc.Release()
	pt := padTo(bytes.Clone(value), r.pad)
	defer clear(pt)
	if r.esdk != nil {
		body, err := c.sealESDK(ctx, r, nil, pt)
		if err != nil {
			return "", err
		}
		return string(format.AppendText(nil, body)), nil
	}
	dk, err := c.enc.DataKey(ctx, r.partition, r.kr, r.kctx, 1, uint64(len(pt)))
	if err != nil {
		return "", &TokenError{Class: class, Err: err}
	}
	s := newSealer(r, dk)
	body := s.dk.Seal(append([]byte(nil), s.header...), pt, s.aad)
	return string(format.AppendText(nil, body)), nil
}

// sealESDK appends a ModeESDK token body for pt to dst.
func (c *Codec) sealESDK(ctx context.Context, r *rule, dst, pt []byte) ([]byte, error) {
	msg, err := r.esdk.Encrypt(ctx, pt, r.kctx)
	if err != nil {
		return nil, &TokenError{Class: r.class, Err: err}
	}
	return append(format.AppendESDKHeader(dst, r.class), msg...), nil
}

// sealer holds what every token of one rule and data key shares.
type sealer struct {
	dk     *envelope.DataKey
	header []byte
	aad    []byte
	// text is the text form (prefix included) of header[:textLen], the
	// longest part of the header whose length is a multiple of 3: its
	// base64 does not depend on the bytes that follow.
	text    []byte
	textLen int
}

func newSealer(r *rule, dk *envelope.DataKey) *sealer {
	h := format.AppendHeader(nil, r.class, dk.Wrapped(), dk.Commitment())
	aad := append(append(make([]byte, 0, len(h)+len(r.ctxBytes)), h...), r.ctxBytes...)
	n := len(h) / 3 * 3
	return &sealer{dk: dk, header: h, aad: aad, text: format.AppendText(nil, h[:n]), textLen: n}
}

func padded(n, pad int) int {
	if pad <= 1 {
		return n
	}
	return (n + pad - 1) / pad * pad
}

func padTo(b []byte, pad int) []byte {
	for n := padded(len(b), pad); len(b) < n; {
		b = append(b, ' ')
	}
	return b
}

// noBase is the pointer prefix of a top-level document. Inside a decrypted
// token, the prefix is the token's pointer, computed only for errors.
func noBase() string { return "" }

// maxTokenNesting bounds tokens inside decrypted tokens.
const maxTokenNesting = 16

// Decrypt returns doc with every token, wherever it is, replaced by the JSON
// value it holds, byte for byte as it was encrypted (tokens inside
// decrypted values too). With WithClasses, tokens of other classes stay as
// they are. Any token that cannot be decrypted fails the whole call with a
// *TokenError; nothing is returned.
func (c *Codec) Decrypt(ctx context.Context, src []byte) ([]byte, error) {
	d := decryptor{c: c, ctx: ctx}
	out, err := d.run(src, noBase, 0)
	clear(d.pt)
	if err != nil {
		return nil, err
	}
	return cloneIfSame(out, src), nil
}

// cloneIfSame copies out if it is src, so that results never alias inputs.
func cloneIfSame(out, src []byte) []byte {
	if len(out) > 0 && len(src) > 0 && &out[0] == &src[0] {
		return bytes.Clone(out)
	}
	return out
}

// DecryptPartial is like Decrypt, but a token that cannot be decrypted is
// left as it is and reported, and the rest of the document is still
// decrypted. err is set only for an invalid document.
func (c *Codec) DecryptPartial(ctx context.Context, src []byte) (out []byte, failed []*TokenError, err error) {
	d := decryptor{c: c, ctx: ctx, lenient: true}
	out, err = d.run(src, noBase, 0)
	clear(d.pt)
	if err != nil {
		return nil, nil, err
	}
	return cloneIfSame(out, src), d.failed, nil
}

type decryptor struct {
	c       *Codec
	ctx     context.Context
	lenient bool
	failed  []*TokenError
	// scratch, reused across tokens
	text, body, id, pt []byte
	tok                format.Token
}

// run decrypts the tokens in src. If there are none to replace, it returns
// src itself.
func (d *decryptor) run(src []byte, base func() string, level int) ([]byte, error) {
	doc, err := d.c.scan(src)
	if err != nil {
		return nil, err
	}
	defer doc.Release()
	var out []byte
	last := 0
	for n := 0; n < doc.Len(); n++ {
		if doc.Kind(n) != fieldpath.String {
			continue
		}
		text, isTok := tokenText(doc, src, n, &d.text)
		if !isTok {
			continue
		}
		val, terr := d.token(text, doc, n, base, level)
		if terr != nil {
			if !d.lenient {
				return nil, terr
			}
			d.failed = append(d.failed, terr)
			continue
		}
		if val == nil {
			continue // a class we do not decrypt
		}
		start, end := doc.Raw(n)
		if out == nil {
			out = make([]byte, 0, len(src))
		}
		out = append(out, src[last:start]...)
		out = append(out, val...)
		last = end
	}
	if out == nil {
		return src, nil
	}
	return append(out, src[last:]...), nil
}

// token decrypts one token. It returns nil, nil for a token of a class that
// is not to be decrypted.
func (d *decryptor) token(text []byte, doc *fieldpath.Document, n int, base func() string, level int) ([]byte, *TokenError) {
	fail := func(class string, err error) *TokenError {
		return &TokenError{Pointer: base() + doc.Pointer(n), Class: class, Err: err}
	}
	tok := &d.tok
	var err error
	if d.body, err = tok.Decode(text, d.body); err != nil {
		return nil, fail("", fmt.Errorf("%w: %w", ErrMalformedToken, err))
	}
	if d.c.allow != nil && !d.c.allow[tok.Class] {
		return nil, nil
	}
	if level >= maxTokenNesting {
		return nil, fail(tok.Class, fmt.Errorf("%w: tokens nested over %d levels", ErrMalformedToken, maxTokenNesting))
	}
	kctx, cb := d.c.keyContext(tok.Class)
	var pt []byte
	if tok.Mode == format.ModeESDK {
		if d.c.esdkReader == nil {
			return nil, fail(tok.Class, fmt.Errorf("%w: AWS Encryption SDK tokens need codec.WithESDK", envelope.ErrNoKey))
		}
		pt, err = d.c.esdkReader.Decrypt(d.ctx, tok.Payload, kctx)
		if errors.Is(err, envelope.ErrOpen) {
			return nil, fail(tok.Class, fmt.Errorf("%w: %w", ErrAuthentication, err))
		}
		if err != nil {
			return nil, fail(tok.Class, err)
		}
	} else {
		d.id = append(append(d.id[:0], tok.Header...), cb...)
		dk, err := d.c.dec.DataKey(d.ctx, d.id, d.c.reader, tok.Keys, kctx)
		if err != nil {
			return nil, fail(tok.Class, err)
		}
		pt, err = dk.Open(d.pt[:0], tok.Commitment, tok.Payload, d.id) // id is header || context: the associated data
		if err != nil {
			return nil, fail(tok.Class, ErrAuthentication)
		}
		d.pt = pt[:0]
	}
	pt = bytes.TrimRight(pt, " \t\r\n") // padding
	if !bytes.Contains(pt, []byte(format.Prefix)) {
		// No token inside: the value only needs to be valid JSON. It
		// may alias d.pt, which the caller copies before the next token.
		if err := fieldpath.Valid(pt, d.c.limits); err != nil {
			return nil, fail(tok.Class, fmt.Errorf("%w: value is not valid JSON", ErrAuthentication))
		}
		return pt, nil
	}
	// A nested run must not share our scratch buffers.
	inner := decryptor{c: d.c, ctx: d.ctx, lenient: d.lenient}
	val, err := inner.run(pt, func() string { return base() + doc.Pointer(n) }, level+1)
	clear(inner.pt)
	d.failed = append(d.failed, inner.failed...)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, fail(tok.Class, fmt.Errorf("%w: value is not valid JSON", ErrAuthentication))
	}
	return val, nil
}

// keyContext returns the key context of a class and its encoding.
func (c *Codec) keyContext(class string) (map[string]string, []byte) {
	if r, ok := c.byClass[class]; ok {
		return r.kctx, r.ctxBytes
	}
	c.ctxMu.Lock()
	defer c.ctxMu.Unlock()
	kctx := format.KeyContext(c.ec, class)
	cb, ok := c.ctxBytes[class]
	if !ok {
		cb = format.AppendContext(nil, kctx)
		if len(c.ctxBytes) < 1024 {
			c.ctxBytes[class] = cb
		}
	}
	return kctx, cb
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
