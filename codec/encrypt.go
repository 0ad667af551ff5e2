package codec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

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
	// given is 1 + the index in the plan's originals of the token that a
	// Scope gives back for this value, or 0 to seal it.
	given int32
}

// encrypt runs the three steps of encryption: plan (which values become
// tokens), keys (one data key per chunk of values), write (splice the
// tokens in). sel is the rules' selection of doc, or nil to make it; extra
// are further nodes to seal, from a Scope s, which gives back the tokens
// of values it decrypted and may allow only some classes to be written
// (WritesOnly); s may be nil.
func (c *Codec) encrypt(ctx context.Context, doc *jsontape.Document, src []byte, sel []fieldpath.Match, extra []match, s *Scope) ([]byte, error) {
	rep := reportFrom(ctx)
	edits, given, err := c.plan(doc, src, sel, extra, s, rep)
	if err != nil {
		return nil, err
	}
	if s != nil && s.writes != nil {
		// Before any key is asked for: a class the function may not
		// write fails here, by name, not at KMS as access denied. A
		// token given back is not a write.
		for _, e := range edits {
			if class := c.rules[e.rule].class; e.given == 0 && !s.writes[class] {
				return nil, &WriteError{Pointer: doc.Pointer(int(e.node)), Class: class}
			}
		}
	}
	if len(edits) == 0 {
		return bytes.Clone(src), nil
	}
	keys, err := c.keys(ctx, newBindings(doc, src), edits, given, rep)
	if err != nil {
		return nil, err
	}
	return c.write(ctx, doc, src, edits, keys, given, rep)
}

// plan returns the values to seal, in document order, and the tokens that s
// gives back for some of them (edit.given). It checks the tokens that are
// already there: at a selected path, one of the rule's; anywhere else,
// well-formed.
func (c *Codec) plan(doc *jsontape.Document, src []byte, sel []fieldpath.Match, extra []match, s *Scope, rep *Report) ([]edit, []original, error) {
	var err error
	if sel == nil {
		if sel, err = fieldpath.Select(doc, c.sels); err != nil {
			// Fail closed: a selector that cannot be evaluated must
			// not leave its values in plaintext.
			return nil, nil, fmt.Errorf("codec: %w", err)
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
	var given []original
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
				return nil, nil, &TokenError{Pointer: doc.Pointer(at), Err: ErrReservedPrefix}
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
					return nil, nil, &TokenError{Pointer: doc.Pointer(m.node), Err: wrapMalformed(err)}
				}
				if !r.reads(&tok) {
					err := ErrForeignToken
					if r.refusesUnsigned(&tok) {
						err = ErrUnsigned
					}
					return nil, nil, &TokenError{Pointer: doc.Pointer(m.node), Class: tok.Class, Err: err}
				}
				rep.add(PassedThrough, tok.Class, doc, m.node, nil)
				continue
			}
		}
		start, end := doc.Raw(m.node)
		e := edit{node: int32(m.node), start: int32(start), end: int32(end), rule: int32(m.rule), op: m.op}
		if o, ok := s.givenBack(m.rule, doc, src, m.node); ok {
			given = append(given, o)
			e.given = int32(len(given))
		}
		edits = append(edits, e)
		inside, outer = doc.End(m.node), m.node
	}
	return edits, given, nil
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
	for _, m := range r.readers {
		if m.mode() == tok.Mode && m.mayOpen(tok) {
			return true
		}
	}
	return false
}

// refusesUnsigned reports whether tok is an unsigned token of r's class that
// r refuses because it requires signatures.
func (r *rule) refusesUnsigned(tok *format.Token) bool {
	if tok.Class != r.class || r.signing != SignedRequired || tok.Mode.Signed() {
		return false
	}
	for _, m := range r.readers {
		if m.mode().Unsigned() == tok.Mode {
			return true
		}
	}
	return false
}

// keys splits each rule's values into chunks that one sealer may seal
// (for a cached data key, within the encrypt cache's MaxUses and MaxBytes),
// sets each edit's chunk, and returns the sealers per chunk, by rule.
func (c *Codec) keys(ctx context.Context, binds *bindings, edits []edit, given []original, rep *Report) ([][]tokenSealer, error) {
	type chunk struct{ uses, bytes uint64 }
	chunks := make([][]chunk, len(c.rules))
	maxUses, maxBytes := c.enc.MaxUses(), c.enc.MaxBytes()
	bound := make([]binding, len(c.rules))
	isBound := make([]bool, len(c.rules))
	for i := range edits {
		e := &edits[i]
		r := c.rules[e.rule]
		if (r.bind != nil || r.callCtx != nil) && !isBound[e.rule] {
			b, err := binds.of(r)
			if err != nil {
				return nil, err
			}
			for _, at := range b.offsets() {
				for _, o := range edits {
					if int(o.start) <= at && at < int(o.end) {
						// Readers would find the business key or the
						// context value encrypted.
						sentinel := ErrBinding
						if r.bind == nil || at != b.at {
							sentinel = ErrContextValue
						}
						return nil, fmt.Errorf("%w: a value the rule of class %s binds its tokens to, at byte %d, is about to be encrypted", sentinel, r.class, at)
					}
				}
			}
			bound[e.rule], isBound[e.rule] = b, true
		}
		if e.given > 0 {
			// An original token is bound to the business key and
			// context of the document it came in: give it back only
			// under the same.
			if given[e.given-1].bind.same(bound[e.rule]) {
				continue
			}
			e.given = 0
		}
		size := uint64(padded(int(e.end-e.start), r.pad))
		cs := chunks[e.rule]
		if !r.writer.chunked() {
			// One sealer takes every value of the rule.
			if len(cs) == 0 {
				cs = append(cs, chunk{})
			}
		} else {
			if size > maxBytes {
				return nil, &DataKeyError{Class: r.class, Err: fmt.Errorf("a value of %d bytes is over the %d bytes one data key may seal", size, maxBytes)}
			}
			if len(cs) == 0 || cs[len(cs)-1].uses == maxUses || cs[len(cs)-1].bytes+size > maxBytes {
				cs = append(cs, chunk{})
			}
		}
		cs[len(cs)-1].uses++
		cs[len(cs)-1].bytes += size
		chunks[e.rule] = cs
		e.chunk = int32(len(cs) - 1)
	}
	sealers := make([][]tokenSealer, len(c.rules))
	for ri, cs := range chunks {
		r := c.rules[ri]
		for _, ch := range cs {
			s, err := r.writer.sealer(ctx, c, r, bound[ri], ch.uses, ch.bytes, rep)
			if err != nil {
				return nil, err
			}
			sealers[ri] = append(sealers[ri], s)
		}
	}
	return sealers, nil
}

// write splices the tokens into src.
func (c *Codec) write(ctx context.Context, doc *jsontape.Document, src []byte, edits []edit, sealers [][]tokenSealer, given []original, rep *Report) ([]byte, error) {
	outLen := len(src)
	for _, e := range edits {
		if e.given > 0 {
			outLen += 2 + len(given[e.given-1].text) - int(e.end-e.start)
			continue
		}
		n := sealers[e.rule][e.chunk].textLen(padded(int(e.end-e.start), c.rules[e.rule].pad))
		if n >= 0 { // else the size is known once sealed; append grows out
			outLen += 2 + n - int(e.end-e.start)
		}
	}
	if outLen > c.maxSize() {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOutputTooLarge, outLen, c.maxSize())
	}
	sp := jsontape.NewSplicer(make([]byte, 0, outLen), src, 0)
	var pt []byte
	defer func() { clear(pt[:cap(pt)]) }()
	var nonces *datakey.Nonces
	if len(edits) > 1 {
		nonces = new(datakey.Nonces) // one crypto/rand read per 256 tokens
	}
	for _, e := range edits {
		out := sp.Cut(int(e.start), int(e.end))
		r := c.rules[e.rule]
		if e.given > 0 {
			out = append(append(out, '"'), given[e.given-1].text...)
			sp.Fill(append(out, '"'))
			rep.add(GivenBack, r.class, doc, int(e.node), nil)
			continue
		}
		pt = padTo(append(pt[:0], src[e.start:e.end]...), r.pad)
		out, err := sealers[e.rule][e.chunk].seal(ctx, append(out, '"'), pt, nonces)
		if err != nil {
			return nil, err
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
	if r.callCtx != nil {
		return "", fmt.Errorf("%w: class %s takes encryption context entries from the document; encrypt a document instead", ErrContextValue, class)
	}
	s, err := r.writer.sealer(ctx, c, r, binding{}, 1, uint64(len(pt)), nil)
	if err != nil {
		return "", err
	}
	text, err := s.seal(ctx, nil, pt, nil)
	if err != nil {
		return "", err
	}
	return string(text), nil
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
