package codec

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"

	"github.com/sfnenc/sfnenc/jsontape"
)

// originals remembers, for one Scope, the token each decrypted value came
// from, so that Scope.Encrypt gives the token back where the result holds
// the value unchanged, instead of sealing it anew: a function that only
// reads a class then needs no right to write it (no data key, no signing
// key). Values are known by an HMAC-SHA-256, under a key of the Scope, of
// their canonical form, not kept: equal JSON values whatever the order of
// object members, whitespace and string escapes (which a handler's JSON
// encoder may change), with numbers by their exact text (a number spelled
// otherwise is sealed anew, since "same double" is not "same number").
type originals struct {
	mac    hash.Hash
	sum    []byte
	canon  []byte // scratch
	tokens map[[sha256.Size]byte]original
}

// original is a token a Scope opened, with the business key it was bound
// to then.
type original struct {
	text []byte // the token's text, prefix included
	bind binding
}

// id returns the MAC of the canonical form of node n of doc (whose text is
// src) as a value of rule ri.
func (o *originals) id(ri int, doc *jsontape.Document, src []byte, n int) [sha256.Size]byte {
	o.canon = binary.BigEndian.AppendUint32(o.canon[:0], uint32(ri))
	o.canon = o.canonical(o.canon, doc, src, n)
	o.mac.Reset()
	o.mac.Write(o.canon)
	o.sum = o.mac.Sum(o.sum[:0])
	clear(o.canon)
	return [sha256.Size]byte(o.sum)
}

// canonical appends the canonical form of node n: a kind byte, then for a
// string its decoded content and for a number its text (each after a u32
// length), for an array its elements' forms, for an object its members'
// names (length-prefixed) and values' forms in byte-wise order of names
// (each after a u32 count).
func (o *originals) canonical(dst []byte, doc *jsontape.Document, src []byte, n int) []byte {
	switch doc.Kind(n) {
	case jsontape.String:
		dst = append(dst, 's', 0, 0, 0, 0)
		at := len(dst)
		dst = doc.AppendString(dst, n)
		binary.BigEndian.PutUint32(dst[at-4:at], uint32(len(dst)-at))
		return dst
	case jsontape.Number:
		start, end := doc.Raw(n)
		dst = binary.BigEndian.AppendUint32(append(dst, 'n'), uint32(end-start))
		return append(dst, src[start:end]...)
	case jsontape.Array:
		var kids []int
		for m := n + 1; m < doc.End(n); m = doc.End(m) {
			kids = append(kids, m)
		}
		dst = binary.BigEndian.AppendUint32(append(dst, 'a'), uint32(len(kids)))
		for _, m := range kids {
			dst = o.canonical(dst, doc, src, m)
		}
		return dst
	case jsontape.Object:
		type member struct {
			name []byte
			node int
		}
		var ms []member
		for m := n + 1; m < doc.End(n); m = doc.End(m) {
			ms = append(ms, member{name: doc.AppendName(nil, m), node: m})
		}
		// Names are unique: jsontape refuses duplicates.
		slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(a.name, b.name) })
		dst = binary.BigEndian.AppendUint32(append(dst, 'o'), uint32(len(ms)))
		for _, m := range ms {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.name)))
			dst = append(dst, m.name...)
			clear(m.name)
			dst = o.canonical(dst, doc, src, m.node)
		}
		return dst
	}
	start, end := doc.Raw(n) // true, false, null
	return append(dst, src[start:end]...)
}

// remember records that the token text of rule ri, bound to b, opened to
// val.
func (s *Scope) remember(ri int, val, text []byte, b binding) error {
	o := &s.orig
	if o.tokens == nil {
		key := make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand, Go 1.24+)
		o.mac = hmac.New(sha256.New, key)
		o.tokens = map[[sha256.Size]byte]original{}
	}
	doc, err := jsontape.Scan(val, jsontape.Limits{MaxSize: len(val) + 1, MaxDepth: s.c.maxDepth()})
	if err != nil {
		return err
	}
	id := o.id(ri, doc, val, 0)
	doc.Release()
	if _, dup := o.tokens[id]; !dup {
		o.tokens[id] = original{text: slices.Clone(text), bind: binding{kind: b.kind, value: slices.Clone(b.value), call: b.call}}
	}
	return nil
}

// givenBack returns the original token for node n of doc, a value that
// rule ri would seal, if the Scope opened it from a token of that rule.
func (s *Scope) givenBack(ri int, doc *jsontape.Document, src []byte, n int) (original, bool) {
	if s == nil || s.orig.tokens == nil {
		return original{}, false
	}
	o, ok := s.orig.tokens[s.orig.id(ri, doc, src, n)]
	return o, ok
}
