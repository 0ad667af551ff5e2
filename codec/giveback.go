package codec

import (
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
// key). Values are known by an HMAC-SHA-256 under a key of the Scope, not
// kept; a string by its decoded content (a JSON encoder may spell it
// otherwise), any other value byte for byte.
type originals struct {
	mac    hash.Hash
	sum    []byte
	tokens map[[sha256.Size]byte]original
}

// original is a token a Scope opened, with the business key it was bound
// to then.
type original struct {
	text []byte // the token's text, prefix included
	bind binding
}

// id returns the MAC of a value of rule ri: kind 's' and a string's
// content, or 'v' and a value's JSON text.
func (o *originals) id(ri int, kind byte, v []byte) [sha256.Size]byte {
	o.mac.Reset()
	var h [5]byte
	binary.BigEndian.PutUint32(h[:4], uint32(ri))
	h[4] = kind
	o.mac.Write(h[:])
	o.mac.Write(v)
	o.sum = o.mac.Sum(o.sum[:0])
	return [sha256.Size]byte(o.sum)
}

// valueID returns the MAC of val, the JSON text of a decrypted value.
func (o *originals) valueID(ri int, val []byte) ([sha256.Size]byte, bool) {
	if len(val) >= 2 && val[0] == '"' {
		if slices.Index(val, '\\') < 0 {
			return o.id(ri, 's', val[1:len(val)-1]), true
		}
		doc, err := jsontape.Scan(val, jsontape.Limits{MaxSize: len(val) + 1, MaxDepth: 1})
		if err != nil {
			return [sha256.Size]byte{}, false
		}
		defer doc.Release()
		s := doc.AppendString(nil, 0)
		defer clear(s)
		return o.id(ri, 's', s), true
	}
	return o.id(ri, 'v', val), true
}

// nodeID returns the MAC of node n of doc as a value of rule ri.
func (o *originals) nodeID(ri int, doc *jsontape.Document, src []byte, n int, buf *[]byte) [sha256.Size]byte {
	if doc.Kind(n) == jsontape.String {
		*buf = doc.AppendString((*buf)[:0], n)
		return o.id(ri, 's', *buf)
	}
	start, end := doc.Raw(n)
	return o.id(ri, 'v', src[start:end])
}

// remember records that the token text of rule ri, bound to b, opened to
// val.
func (s *Scope) remember(ri int, val, text []byte, b binding) {
	o := &s.orig
	if o.tokens == nil {
		key := make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand, Go 1.24+)
		o.mac = hmac.New(sha256.New, key)
		o.tokens = map[[sha256.Size]byte]original{}
	}
	id, ok := o.valueID(ri, val)
	if !ok {
		return
	}
	if _, dup := o.tokens[id]; !dup {
		o.tokens[id] = original{text: slices.Clone(text), bind: binding{kind: b.kind, value: slices.Clone(b.value)}}
	}
}

// givenBack returns the original token for node n of doc, a value that
// rule ri would seal, if the Scope opened it from a token of that rule.
func (s *Scope) givenBack(ri int, doc *jsontape.Document, src []byte, n int, buf *[]byte) (original, bool) {
	if s == nil || s.orig.tokens == nil {
		return original{}, false
	}
	o, ok := s.orig.tokens[s.orig.nodeID(ri, doc, src, n, buf)]
	return o, ok
}
