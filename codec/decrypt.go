package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sfnenc/sfnenc/envelope"
	"github.com/sfnenc/sfnenc/internal/datakey"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// maxTokenNesting bounds tokens inside decrypted tokens.
const maxTokenNesting = 16

// Decrypt returns doc with every token, wherever it is, replaced by the JSON
// value it holds, byte for byte as it was encrypted (tokens inside
// decrypted values too). This is the reading for people and for backend
// services, who must find tokens wherever Step Functions moved them; the
// Lambda middleware reads by contract instead (see Scope). A token opens
// only under a keyring and format that the rule of its class names. With
// WithClasses, tokens of other classes stay as they are. Any token that
// cannot be decrypted fails the whole call with a *TokenError; nothing is
// returned.
func (c *Codec) Decrypt(ctx context.Context, src []byte) ([]byte, error) {
	d := decryptor{c: c, ctx: ctx, rep: reportFrom(ctx)}
	defer d.wipe()
	out, err := d.run(src, place{}, false, 0, 0)
	if err != nil {
		return nil, err
	}
	return cloneIfSame(out, src), nil
}

// DecryptPartial is like Decrypt, but a token that cannot be decrypted is
// left as it is and reported, and the rest of the document is still
// decrypted. err is set only for an invalid document.
func (c *Codec) DecryptPartial(ctx context.Context, src []byte) (out []byte, failed []*TokenError, err error) {
	d := decryptor{c: c, ctx: ctx, lenient: true, rep: reportFrom(ctx)}
	defer d.wipe()
	out, err = d.run(src, place{}, false, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	return cloneIfSame(out, src), d.failed, nil
}

// cloneIfSame copies out if it is src, so that results never alias inputs.
func cloneIfSame(out, src []byte) []byte {
	if len(out) > 0 && len(src) > 0 && &out[0] == &src[0] {
		return bytes.Clone(out)
	}
	return out
}

type decryptor struct {
	c       *Codec
	ctx     context.Context
	lenient bool
	// flat: a value that holds tokens is returned as it is, for the
	// caller to open them (a Scope opens them by the rules).
	flat bool
	rep  *Report
	// binds evaluates business keys on the outermost document.
	binds  *bindings
	opened *datakey.Key // the data key openWith last used
	failed []*TokenError
	// scratch, reused across tokens
	text, body, id, aad, pt, msg []byte
	// The KMS context of the last signed data key opened (mode 0x04).
	signedCB, signedVK []byte
	signedCtx          map[string]string
	tok                format.Token
	inner              *decryptor // for tokens inside decrypted values
	// The last envelope token opened, for tokens of the same data key,
	// which share its header: they skip parsing and the cache.
	last lastToken
}

// lastToken is what a token of the same header as the last one needs.
type lastToken struct {
	text   []byte // the text of the header's first len(header)/3*3 bytes
	header []byte
	commit []byte
	class  string
	dk     *datakey.Key
	aad    []byte
}

func (d *decryptor) wipe() {
	for x := d; x != nil; x = x.inner {
		clear(x.pt[:cap(x.pt)])
	}
}

// run decrypts the tokens in src, a document whose root is at depth depth
// of the outermost document. Inside a decrypted value (nested), every
// pointer reported is ptr, the outermost token's. If there are no tokens to
// replace, run returns src itself.
func (d *decryptor) run(src []byte, outer place, nested bool, depth, level int) ([]byte, error) {
	doc, err := jsontape.Scan(src, d.c.limitsAt(depth))
	if err == nil && !fitsAt(src, d.c.maxDepth()-depth) {
		doc.Release()
		err = errNotJSON
	}
	if err != nil {
		if nested {
			return nil, errNotJSON
		}
		return nil, d.c.docError(err, true, len(src))
	}
	defer doc.Release()
	if !nested {
		d.binds = newBindings(doc, src)
	}
	sp := jsontape.NewSplicer(nil, src, len(src))
	for n := doc.NextWithPrefix(0, format.Prefix); n < doc.Len(); n = doc.NextWithPrefix(n+1, format.Prefix) {
		text, isTok := tokenText(doc, src, n, &d.text)
		if !isTok {
			continue
		}
		at := outer
		if !nested {
			at = place{doc: doc, n: n}
		}
		val, terr := d.token(text, at, depth+doc.Depth(n), level)
		if terr != nil {
			d.rep.failedToken(terr, text)
			if !d.lenient {
				return nil, terr
			}
			d.failed = append(d.failed, terr)
			continue
		}
		if val == nil {
			d.rep.addPlace(PassedThrough, d.tok.Class, at)
			continue // a class we do not decrypt
		}
		d.rep.addPlace(Decrypted, d.tok.Class, at)
		start, end := doc.Raw(n)
		sp.Put(start, end, val)
	}
	return sp.Bytes(), nil
}

var errNotJSON = fmt.Errorf("%w: value is not valid JSON", ErrAuthentication)

// token decrypts one token found at pointer ptr and depth depth. It returns
// nil, nil for a token of a class that is not to be decrypted. The value may
// alias d's scratch space, which the caller copies before the next token.
func (d *decryptor) token(text []byte, at place, depth, level int) ([]byte, *TokenError) {
	return d.tokenDecoded(text, at, depth, level, false)
}

// tokenDecoded is token; decoded says that d.tok already holds text parsed.
func (d *decryptor) tokenDecoded(text []byte, at place, depth, level int, decoded bool) ([]byte, *TokenError) {
	tok := &d.tok
	class := ""
	var pt []byte
	if again, ok := d.again(text); ok {
		// Same header as the last token: same class (allowed, as the
		// last was opened), same data key, same associated data.
		class = d.last.class
		d.rep.key(true) // the data key of the last token: a hit
		var err error
		if pt, err = d.last.dk.Open(d.pt[:0], d.last.commit, again, d.last.aad); err != nil {
			return nil, &TokenError{Pointer: at.pointer(), Class: class, Err: ErrAuthentication}
		}
		d.pt = pt[:0]
	} else {
		if !decoded {
			var err error
			if d.body, err = tok.Decode(text, d.body); err != nil {
				return nil, &TokenError{Pointer: at.pointer(), Err: wrapMalformed(err)}
			}
		}
		class = tok.Class
		if d.c.allow != nil && !d.c.allow[class] {
			return nil, nil
		}
		if level >= maxTokenNesting {
			return nil, &TokenError{Pointer: at.pointer(), Class: class, Err: fmt.Errorf("%w: tokens nested over %d levels", ErrMalformedToken, maxTokenNesting)}
		}
		var err error
		if pt, err = d.open(tok); err != nil {
			return nil, &TokenError{Pointer: at.pointer(), Class: class, Err: err}
		}
		d.remember(text, tok)
	}
	fail := func(err error) *TokenError { return &TokenError{Pointer: at.pointer(), Class: class, Err: err} }
	pt = bytes.TrimRight(pt, " \t\r\n") // padding
	if plainString(pt) {
		return pt, nil // valid JSON, no token inside, fits anywhere
	}
	if d.flat || !bytes.Contains(pt, []byte(format.Prefix)) {
		// No token inside: the value only needs to be valid JSON that
		// fits the depth limit where it is.
		if err := jsontape.Valid(pt, d.c.limitsAt(depth)); err != nil || !fitsAt(pt, d.c.maxDepth()-depth) {
			return nil, fail(errNotJSON)
		}
		return pt, nil
	}
	// A nested run must not share our scratch buffers.
	if d.inner == nil {
		d.inner = &decryptor{c: d.c, ctx: d.ctx, lenient: d.lenient, rep: d.rep}
	}
	inner := d.inner
	inner.failed = inner.failed[:0]
	inner.binds = d.binds
	val, err := inner.run(pt, at.fixed(), true, depth, level+1)
	d.failed = append(d.failed, inner.failed...)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, fail(errNotJSON)
	}
	return val, nil
}

// open returns the plaintext of a parsed token, under the keyrings and
// formats of its class's rule only.
func (d *decryptor) open(tok *format.Token) ([]byte, error) {
	r, ok := d.c.byClass[tok.Class]
	if !ok {
		return nil, ErrUnknownClass
	}
	tried := false
	var first error
	for _, rd := range r.readers {
		if rd.mode() != tok.Mode {
			continue
		}
		tried = true
		pt, err := d.openWith(rd, r, tok)
		if err == nil {
			return pt, nil
		}
		if !envelope.MayTryAnother(err) {
			return nil, err
		}
		if first == nil || errors.Is(first, envelope.ErrNoKey) {
			first = err
		}
	}
	if !tried && r.refusesUnsigned(tok) {
		return nil, ErrUnsigned
	}
	if !tried {
		return nil, fmt.Errorf("%w: class %s does not read tokens of this format", envelope.ErrNoKey, tok.Class)
	}
	return nil, first
}

func (d *decryptor) openWith(rd tokenMode, r *rule, tok *format.Token) ([]byte, error) {
	b, err := d.binds.of(r)
	if err != nil {
		return nil, err
	}
	return rd.open(d, r, tok, b)
}

// remember keeps what tokens with the same header as tok (an envelope
// token just opened) need, so that they skip parsing and the cache.
func (d *decryptor) remember(text []byte, tok *format.Token) {
	if tok.Mode != format.ModeEnvelope || d.opened == nil {
		d.last.dk = nil
		return
	}
	n := format.HeaderTextLen(len(tok.Header))
	d.last = lastToken{
		text:   append(d.last.text[:0], text[:n]...),
		header: append(d.last.header[:0], tok.Header...),
		commit: append(d.last.commit[:0], tok.Commitment...),
		class:  tok.Class,
		dk:     d.opened,
		aad:    append(d.last.aad[:0], d.aad...),
	}
	d.opened = nil
}

// sameHeader reports whether text begins like the last token opened.
func (d *decryptor) sameHeader(text []byte) bool {
	n := len(d.last.text)
	return d.last.dk != nil && len(text) > n && bytes.Equal(text[:n], d.last.text)
}

// again returns the sealed payload of text if text is a token with the
// same header as the last one opened.
func (d *decryptor) again(text []byte) ([]byte, bool) {
	l := &d.last
	n := len(l.text)
	if !d.sameHeader(text) {
		return nil, false
	}
	var err error
	if d.body, err = format.DecodeMore(d.body[:0], text[n:]); err != nil {
		return nil, false // the slow path reports it
	}
	rest := l.header[len(l.header)/3*3:]
	if !bytes.HasPrefix(d.body, rest) || len(d.body)-len(rest) < format.NonceSize+format.TagSize {
		return nil, false
	}
	return d.body[len(rest):], true
}

// plainString reports whether v is a JSON string with no escapes, control
// characters or token prefix: valid JSON that needs no scan.
func plainString(v []byte) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(v) && !format.IsToken(v[1:len(v)-1])
}

// limitsAt returns the limits for a value that replaces a node at depth
// depth: its own nesting may use what the depth limit leaves.
func (c *Codec) limitsAt(depth int) jsontape.Limits {
	lim := c.limits
	lim.MaxDepth = max(c.maxDepth()-depth, 1)
	return lim
}

// fitsAt reports whether a valid JSON value, checked against limitsAt, also
// fits where no nesting is left (room 0): then only a scalar or an empty
// array or object fits.
func fitsAt(v []byte, room int) bool {
	if room > 0 {
		return true
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || (v[0] != '[' && v[0] != '{') {
		return true
	}
	return len(bytes.TrimSpace(v[1:len(v)-1])) == 0
}

// place is where a token is: node n of doc, or, inside a decrypted value,
// the outermost token's pointer. Its pointer is computed only when needed
// (an error, a report that wants pointers).
type place struct {
	doc *jsontape.Document
	n   int
	ptr string // used when doc is nil
}

func (p place) pointer() string {
	if p.doc == nil {
		return p.ptr
	}
	return p.doc.Pointer(p.n)
}

// fixed returns p with its pointer computed, for use after doc is gone or
// inside a decrypted value.
func (p place) fixed() place { return place{ptr: p.pointer()} }
