package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sfnenc/sfnenc/envelope/keyset"
	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/datakey"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// Encrypt returns doc with every value selected by the rules replaced by a
// token; all other bytes stay as they were. A selected value that already
// is a token of the rule's class (made under a keyring and format the rule
// reads) is left as it is; a token of another class there is an error
// wrapping ErrForeignToken. Where selected values nest, the outermost
// becomes the token, with the class of the first rule that selects it.
// Every other string that begins with the token prefix must be a
// well-formed token, inside selected values too (ErrReservedPrefix). On
// error nothing is returned.
func (c *Codec) Encrypt(ctx context.Context, src []byte) ([]byte, error) {
	doc, err := c.scanPlain(src)
	if err != nil {
		return nil, err
	}
	defer doc.Release()
	return c.encrypt(ctx, doc, src, nil, nil, nil)
}

// match is a node to seal as the class of rules[rule].
type match struct {
	node, rule int
	op         Op // Made for a rule's selection, Resealed for a Scope's
}

// edit is one value to replace by a token. A document has at most
// math.MaxInt32 bytes (jsontape.Limits), and a plan may have as many edits
// as it has values: small fields keep that list small.
type edit struct {
	node, start, end int32
	rule             int32
	chunk            int32 // which of the rule's data keys seals it
	op               Op
}

// encrypt runs the three steps of encryption: plan (which values become
// tokens), keys (one data key per chunk of values), write (splice the
// tokens in). sel is the rules' selection of doc, or nil to make it; extra
// are further nodes to seal, from a Scope; writes, if not nil, are the only
// classes it may make tokens of (WritesOnly).
func (c *Codec) encrypt(ctx context.Context, doc *jsontape.Document, src []byte, sel []fieldpath.Match, extra []match, writes map[string]bool) ([]byte, error) {
	rep := reportFrom(ctx)
	edits, err := c.plan(doc, src, sel, extra, rep)
	if err != nil {
		return nil, err
	}
	if writes != nil {
		// Before any key is asked for: a class the function may not
		// write fails here, by name, not at KMS as access denied.
		for _, e := range edits {
			if class := c.rules[e.rule].class; !writes[class] {
				return nil, &WriteError{Pointer: doc.Pointer(int(e.node)), Class: class}
			}
		}
	}
	if len(edits) == 0 {
		return bytes.Clone(src), nil
	}
	keys, err := c.keys(ctx, newBindings(doc, src), edits, rep)
	if err != nil {
		return nil, err
	}
	return c.write(ctx, doc, src, edits, keys, rep)
}

// plan returns the values to seal, in document order. It checks the tokens
// that are already there: at a selected path, one of the rule's; anywhere
// else, well-formed.
func (c *Codec) plan(doc *jsontape.Document, src []byte, sel []fieldpath.Match, extra []match, rep *Report) ([]edit, error) {
	var err error
	if sel == nil {
		if sel, err = fieldpath.Select(doc, c.sels); err != nil {
			// Fail closed: a selector that cannot be evaluated must
			// not leave its values in plaintext.
			return nil, fmt.Errorf("codec: %w", err)
		}
	}
	// The matches in document order: the selection's, or with a Scope's
	// extra ones merged in.
	count := len(sel)
	var ms []match
	if len(extra) > 0 {
		ms = make([]match, 0, len(sel)+len(extra))
		for _, m := range sel {
			ms = append(ms, match{node: m.Node, rule: c.selRule[m.Selector], op: Made})
		}
		ms = outermostMatches(doc, append(ms, extra...))
		count = len(ms)
	}

	edits := make([]edit, 0, count)
	var scratch, body []byte
	var tok format.Token
	inside, outer := 0, -1 // nodes below inside are within the value of node outer
	total := doc.Len()
	// Unmatched strings need a look only if they may be tokens: cand is the
	// next string that begins with the prefix, and few do.
	cand := doc.NextWithPrefix(0, format.Prefix)
	for k := 0; ; k++ {
		stop := total
		var m match
		if k < count {
			if ms != nil {
				m = ms[k]
			} else {
				m = match{node: sel[k].Node, rule: c.selRule[sel[k].Selector], op: Made}
			}
			stop = m.node
		}
		for ; cand < stop; cand = doc.NextWithPrefix(cand+1, format.Prefix) {
			n := cand
			text, isTok := tokenText(doc, src, n, &scratch)
			if !isTok {
				continue
			}
			if body, err = tok.Decode(text, body); err != nil {
				// Inside a value about to be sealed, name only that
				// value: the names below it are part of the plaintext.
				at := n
				if n < inside {
					at = outer
				}
				return nil, &TokenError{Pointer: doc.Pointer(at), Err: ErrReservedPrefix}
			}
			if n >= inside {
				rep.add(PassedThrough, tok.Class, doc, n, nil)
			}
		}
		if k == count {
			break
		}
		// The match at node m.node, which the loop above stopped at.
		if cand == m.node {
			cand = doc.NextWithPrefix(cand+1, format.Prefix)
		}
		r := c.rules[m.rule]
		if doc.Kind(m.node) == jsontape.String {
			if text, isTok := tokenText(doc, src, m.node, &scratch); isTok {
				if body, err = tok.Decode(text, body); err != nil {
					return nil, &TokenError{Pointer: doc.Pointer(m.node), Err: wrapMalformed(err)}
				}
				if !r.reads(&tok) {
					return nil, &TokenError{Pointer: doc.Pointer(m.node), Class: tok.Class, Err: ErrForeignToken}
				}
				rep.add(PassedThrough, tok.Class, doc, m.node, nil)
				continue
			}
		}
		start, end := doc.Raw(m.node)
		edits = append(edits, edit{node: int32(m.node), start: int32(start), end: int32(end), rule: int32(m.rule), op: m.op})
		inside, outer = doc.End(m.node), m.node
	}
	return edits, nil
}

// outermostMatches sorts ms by node and drops the matches inside another; of two
// matches of one node, the first wins.
func outermostMatches(doc *jsontape.Document, ms []match) []match {
	slices.SortStableFunc(ms, func(a, b match) int { return a.node - b.node })
	out := ms[:0]
	cover := 0
	for _, m := range ms {
		if m.node < cover {
			continue
		}
		out = append(out, m)
		cover = doc.End(m.node)
	}
	return out
}

// reads reports whether a token, by its class, mode and wrapped key names,
// is one the rule would open. It makes no key service call: the token is
// not authenticated here (see SECURITY.md, "Tokens that Encrypt passes on").
func (r *rule) reads(tok *format.Token) bool {
	if tok.Class != r.class {
		return false
	}
	for i := range r.readers {
		rd := &r.readers[i]
		if rd.mode != tok.Mode {
			continue
		}
		if rd.mode != format.ModeEnvelope || rd.mayHold(tok.Keys) {
			return true
		}
	}
	return false
}

// keys splits each rule's values into chunks that one data key may seal
// (within the encrypt cache's MaxUses and MaxBytes), sets each edit's chunk,
// and returns a sealer per chunk, by rule.
func (c *Codec) keys(ctx context.Context, binds *bindings, edits []edit, rep *Report) ([][]*sealer, error) {
	type chunk struct{ uses, bytes uint64 }
	chunks := make([][]chunk, len(c.rules))
	maxUses, maxBytes := c.enc.MaxUses(), c.enc.MaxBytes()
	sealers := make([][]*sealer, len(c.rules))
	bound := make([]binding, len(c.rules))
	for i := range edits {
		e := &edits[i]
		r := c.rules[e.rule]
		if r.bind != nil && bound[e.rule].kind == 0 {
			b, err := binds.of(r)
			if err != nil {
				return nil, err
			}
			for _, o := range edits {
				if int(o.start) <= b.at && b.at < int(o.end) {
					// Readers would find the business key encrypted.
					return nil, fmt.Errorf("%w: the value at %s (rule of class %s) is about to be encrypted", ErrBinding, r.bind, r.class)
				}
			}
			bound[e.rule] = b
		}
		switch {
		case r.esdk != nil:
			// Each message makes its own data key; the sealer keeps
			// the binding only.
			if sealers[e.rule] == nil {
				sealers[e.rule] = []*sealer{{bind: bound[e.rule]}}
			}
			continue
		case r.ks != nil:
			// One keyset key seals every value: no chunks.
			if sealers[e.rule] == nil {
				s, err := c.keysetSealer(ctx, r, bound[e.rule])
				if err != nil {
					return nil, err
				}
				sealers[e.rule] = []*sealer{s}
			}
			continue
		}
		size := uint64(padded(int(e.end-e.start), r.pad))
		if size > maxBytes {
			return nil, &DataKeyError{Class: r.class, Err: fmt.Errorf("a value of %d bytes is over the %d bytes one data key may seal", size, maxBytes)}
		}
		cs := chunks[e.rule]
		if len(cs) == 0 || cs[len(cs)-1].uses == maxUses || cs[len(cs)-1].bytes+size > maxBytes {
			cs = append(cs, chunk{})
		}
		cs[len(cs)-1].uses++
		cs[len(cs)-1].bytes += size
		chunks[e.rule] = cs
		e.chunk = int32(len(cs) - 1)
	}
	for ri, cs := range chunks {
		r := c.rules[ri]
		for _, ch := range cs {
			dk, hit, err := c.enc.DataKey(ctx, r.partition, r.kr, r.kctx, ch.uses, ch.bytes)
			if err != nil {
				return nil, &DataKeyError{Class: r.class, Err: err}
			}
			rep.key(hit)
			sealers[ri] = append(sealers[ri], newSealer(r, dk, bound[ri]))
		}
	}
	return sealers, nil
}

// write splices the tokens into src.
func (c *Codec) write(ctx context.Context, doc *jsontape.Document, src []byte, edits []edit, sealers [][]*sealer, rep *Report) ([]byte, error) {
	outLen := len(src)
	for _, e := range edits {
		if c.rules[e.rule].esdk != nil {
			continue // sizes unknown; append grows out
		}
		s := sealers[e.rule][e.chunk]
		overhead := format.NonceSize + format.TagSize
		if s.ks != nil {
			overhead = format.KeysetOverhead
		}
		outLen += 2 + format.TextLen(len(s.header)+overhead+padded(int(e.end-e.start), c.rules[e.rule].pad)) - int(e.end-e.start)
	}
	if outLen > c.maxSize() {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, outLen, c.maxSize())
	}
	sp := jsontape.NewSplicer(make([]byte, 0, outLen), src, 0)
	var body, pt []byte
	defer func() { clear(pt[:cap(pt)]) }()
	var nonces *datakey.Nonces
	if len(edits) > 1 {
		nonces = new(datakey.Nonces) // one crypto/rand read per 256 tokens
	}
	for _, e := range edits {
		out := sp.Cut(int(e.start), int(e.end))
		r := c.rules[e.rule]
		pt = padTo(append(pt[:0], src[e.start:e.end]...), r.pad)
		out = append(out, '"')
		if r.esdk != nil {
			var b binding
			if ss := sealers[e.rule]; len(ss) > 0 {
				b = ss[0].bind
			}
			var err error
			if body, err = c.sealESDK(ctx, r, b, body[:0], pt); err != nil {
				return nil, err
			}
			out = format.AppendText(out, body)
		} else {
			// The text of the header up to s.textLen is the same for
			// every token of the sealer: only the rest is encoded here.
			s := sealers[e.rule][e.chunk]
			if s.ks != nil {
				var err error
				if body, err = s.ks.Seal(append(body[:0], s.header[s.textLen:]...), pt, s.aad); err != nil {
					return nil, &DataKeyError{Class: r.class, Err: err}
				}
			} else {
				body = s.dk.SealWith(nonces, append(body[:0], s.header[s.textLen:]...), pt, s.aad)
			}
			out = append(out, s.text...)
			out = format.AppendTextMore(out, body)
		}
		sp.Fill(append(out, '"'))
		rep.add(e.op, r.class, doc, int(e.node), nil)
	}
	out := sp.Bytes()
	if len(out) > c.maxSize() { // ESDK tokens' sizes are known only now
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, len(out), c.maxSize())
	}
	return out, nil
}

// EncryptValue returns the token (its text, without JSON quotes) for one
// JSON value, as the rule for class would make it. The value must be a
// valid JSON text in which no string begins with the token prefix.
func (c *Codec) EncryptValue(ctx context.Context, class string, value []byte) (string, error) {
	r, ok := c.byClass[class]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownClass, class)
	}
	doc, err := c.scanPlain(value)
	if err != nil {
		return "", err
	}
	for n := 0; n < doc.Len(); n++ {
		if doc.Kind(n) != jsontape.String {
			continue
		}
		var buf []byte
		if _, isTok := tokenText(doc, value, n, &buf); isTok {
			doc.Release()
			return "", &TokenError{Err: ErrReservedPrefix}
		}
	}
	doc.Release()
	pt := padTo(bytes.Clone(value), r.pad)
	defer clear(pt)
	if r.bind != nil {
		// A single value has no document to take the business key from.
		return "", fmt.Errorf("%w: class %s binds its tokens to %s; encrypt a document instead", ErrBinding, class, r.bind)
	}
	if r.esdk != nil {
		body, err := c.sealESDK(ctx, r, binding{}, nil, pt)
		if err != nil {
			return "", err
		}
		return string(format.AppendText(nil, body)), nil
	}
	if r.ks != nil {
		s, err := c.keysetSealer(ctx, r, binding{})
		if err != nil {
			return "", err
		}
		body, err := s.ks.Seal(bytes.Clone(s.header), pt, s.aad)
		if err != nil {
			return "", &DataKeyError{Class: class, Err: err}
		}
		return string(format.AppendText(nil, body)), nil
	}
	dk, _, err := c.enc.DataKey(ctx, r.partition, r.kr, r.kctx, 1, uint64(len(pt)))
	if err != nil {
		return "", &DataKeyError{Class: class, Err: err}
	}
	s := newSealer(r, dk, binding{})
	body := s.dk.Seal(append([]byte(nil), s.header...), pt, s.aad)
	return string(format.AppendText(nil, body)), nil
}

// EncryptString returns the token for the JSON string s as the rule for
// class would make it: the form of an error message or a cause that goes
// into history.
func (c *Codec) EncryptString(ctx context.Context, class, s string) (string, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	defer clear(js)
	return c.EncryptValue(ctx, class, js)
}

// sealESDK appends a ModeESDK token body for pt to dst.
func (c *Codec) sealESDK(ctx context.Context, r *rule, b binding, dst, pt []byte) ([]byte, error) {
	msg, err := r.esdk.Encrypt(ctx, pt, r.esdkContext(b))
	if err != nil {
		return nil, &DataKeyError{Class: r.class, Err: err}
	}
	return append(format.AppendESDKHeader(dst, r.class), msg...), nil
}

// sealer holds what every token of one rule and data key (or keyset key)
// shares.
type sealer struct {
	dk     *datakey.Key
	ks     *keyset.Keyset // instead of dk, for a rule of a kmsKeyset keyring
	header []byte
	aad    []byte
	// text is the text form (prefix included) of header[:textLen], the
	// longest part of the header whose length is a multiple of 3: its
	// base64 does not depend on the bytes that follow.
	text    []byte
	textLen int
	bind    binding
}

func newSealer(r *rule, dk *datakey.Key, b binding) *sealer {
	h := format.AppendHeader(nil, r.class, dk.Wrapped(), dk.Commitment())
	aad := format.AppendAssociatedData(nil, h, r.ctxBytes, b.kind, b.value)
	n := len(h) / 3 * 3
	return &sealer{dk: dk, header: h, aad: aad, text: format.AppendText(nil, h[:n]), textLen: n, bind: b}
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
