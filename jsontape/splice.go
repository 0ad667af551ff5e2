package jsontape

import "slices"

// Splicer writes a copy of a source text with some of its byte ranges
// replaced, in increasing order, and every other byte copied as it is. It
// allocates only once a range is replaced: Bytes returns the source itself
// if none was (and no dst was given).
//
// Put replaces a range with a value. Cut and Fill let a caller append the
// new value itself (to encode it straight into the output): Cut copies the
// bytes up to the range, skips the range and returns the output so far,
// and the caller appends to it and gives it back with Fill before the next
// call.
type Splicer struct {
	src, out []byte
	last     int
	used     bool // out holds the output
	cuts     int
	size     int
}

// NewSplicer returns a Splicer over src whose output is appended to dst.
// With dst nil, the output is allocated on the first replaced range with
// room for size bytes (at least len(src)).
func NewSplicer(dst, src []byte, size int) Splicer {
	return Splicer{src: src, out: dst, used: dst != nil, size: max(size, len(src))}
}

// Cut copies the source up to start into the output, skips the bytes up to
// end, and returns the output for the caller to append the new value to and
// pass to Fill. Ranges must not overlap and must come in order.
func (s *Splicer) Cut(start, end int) []byte {
	if !s.used {
		s.used = true
		s.out = make([]byte, 0, s.size)
	}
	s.out = append(s.out, s.src[s.last:start]...)
	s.last = end
	s.cuts++
	return s.out
}

// Fill takes back the output that Cut returned, with the new value
// appended.
func (s *Splicer) Fill(out []byte) { s.out = out }

// Put replaces the source's bytes from start to end with val.
func (s *Splicer) Put(start, end int, val []byte) {
	s.Fill(append(s.Cut(start, end), val...))
}

// Spliced reports whether a range was replaced.
func (s *Splicer) Spliced() bool { return s.cuts > 0 }

// Bytes returns the output with the rest of the source copied: the source
// itself if no range was replaced and no dst was given.
func (s *Splicer) Bytes() []byte {
	if !s.used {
		return s.src
	}
	return append(s.out, s.src[s.last:]...)
}

// AppendQuoted appends s to dst as a JSON string: quoted, with the escapes
// JSON requires and no others (AppendEscaped with '"').
func AppendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s, '"')
	return append(dst, '"')
}

// Edit is a String node of a Document to write with new content: the string
// at Node, its quotes included, becomes the JSON string of Text.
type Edit struct {
	Node int
	Text []byte
}

// AppendSpliced appends node n of d to dst, with the strings of edits (in
// document order) that lie inside it written with their new content. Every
// other byte stays as the document has it.
func (d *Document) AppendSpliced(dst []byte, n int, edits []Edit) []byte {
	start, end := d.Raw(n)
	if dst == nil {
		dst = make([]byte, 0, end-start+(end-start)/4)
	}
	sp := NewSplicer(dst, d.src[start:end], 0)
	i, _ := slices.BinarySearchFunc(edits, n, func(e Edit, n int) int { return e.Node - n })
	for ; i < len(edits) && edits[i].Node < d.End(n); i++ {
		s, e := d.Raw(edits[i].Node)
		sp.Fill(AppendQuoted(sp.Cut(s-start, e-start), edits[i].Text))
	}
	return sp.Bytes()
}
