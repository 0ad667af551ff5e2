package jsontape

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// Len returns the number of values (nodes) in the document. Nodes are
// numbered 0 .. Len()-1 in document order; node 0 is the root.
func (d *Document) Len() int { return len(d.t.nodes) }

// Kind returns the JSON type of node n.
func (d *Document) Kind(n int) Kind { return d.t.nodes[n].kind }

// Raw returns the byte range src[start:end] of node n in the input given to
// Scan, without surrounding whitespace (with the quotes of a string).
func (d *Document) Raw(n int) (start, end int) {
	nd := &d.t.nodes[n]
	return int(nd.start), int(nd.end)
}

// RawName returns the byte range src[start:end] of the name of object
// member n in the input given to Scan, with its quotes and escapes as the
// input has them; start and end are -1 if n is not an object member.
func (d *Document) RawName(n int) (start, end int) {
	nd := &d.t.nodes[n]
	if nd.keyEnd == 0 {
		return -1, -1
	}
	return int(nd.key) - 1, int(nd.keyEnd) + 1
}

// Parent returns the node of the array or object that holds node n, or -1 for
// the root.
func (d *Document) Parent(n int) int { return int(d.t.nodes[n].parent) }

// Pointer returns the RFC 6901 JSON Pointer of node n, e.g. "/a/0/b~1c" ("" for
// the root). Member names are unescaped, then '~' is written "~0" and '/' "~1".
func (d *Document) Pointer(n int) string { return d.t.pointer(d.src, int32(n)) }

// NormalizedPath returns the RFC 9535 normalized path of node n, e.g.
// "$['a'][0]" ("$" for the root).
func (d *Document) NormalizedPath(n int) string {
	t := d.t
	b := []byte{'$'}
	for _, c := range t.ancestry(int32(n)) {
		nd := &t.nodes[c]
		if t.nodes[nd.parent].kind == Array {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(nd.key), 10)
			b = append(b, ']')
			continue
		}
		b = append(b, '[', '\'')
		b = AppendEscaped(b, t.name(d.src, nd), '\'')
		b = append(b, '\'', ']')
	}
	return string(b)
}

// AppendString appends the content of String node n, with its escapes decoded,
// to dst and returns the extended slice. For other kinds it returns dst
// unchanged.
func (d *Document) AppendString(dst []byte, n int) []byte {
	nd := &d.t.nodes[n]
	if nd.kind != String {
		return dst
	}
	raw := d.src[nd.start+1 : nd.end-1]
	if nd.flags&flagEscaped == 0 {
		return append(dst, raw...)
	}
	return appendUnescaped(dst, raw)
}

// ancestry returns the path from the root to node n: the nodes below the root
// that enclose n, outermost first, and n itself (empty for the root).
func (t *tape) ancestry(n int32) []int32 {
	depth := 0
	for c := n; t.nodes[c].parent >= 0; c = t.nodes[c].parent {
		depth++
	}
	path := make([]int32, depth)
	for c := n; depth > 0; c = t.nodes[c].parent {
		depth--
		path[depth] = c
	}
	return path
}

// name returns the decoded name of object member nd.
func (t *tape) name(src []byte, nd *node) []byte {
	raw := src[nd.key:nd.keyEnd]
	if nd.flags&flagKeyEscaped == 0 {
		return raw
	}
	return appendUnescaped(nil, raw)
}

func (t *tape) pointer(src []byte, n int32) string {
	var b []byte
	for _, c := range t.ancestry(n) {
		nd := &t.nodes[c]
		b = append(b, '/')
		if t.nodes[nd.parent].kind == Array {
			b = strconv.AppendInt(b, int64(nd.key), 10)
		} else {
			b = appendPointerToken(b, t.name(src, nd))
		}
	}
	return string(b)
}

// appendPointerToken appends name as an RFC 6901 reference token.
func appendPointerToken(b, name []byte) []byte {
	for _, c := range name {
		switch c {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, c)
		}
	}
	return b
}

// AppendEscaped appends s to dst escaped as the content of a string quoted
// by quote: quote, the backslash and the control characters are escaped, the
// usual ones by their short form (\b \f \n \r \t), the others as \u00xx
// in lower-case hex; every other byte is copied. With quote '"' that is a
// JSON string's content; with the single quote, that of a name in an RFC
// 9535 normalized path (section 2.7).
func AppendEscaped(dst, s []byte, quote byte) []byte {
	const hex = "0123456789abcdef"
	last := 0
	for i, c := range s {
		if c >= 0x20 && c != quote && c != '\\' {
			continue
		}
		dst = append(dst, s[last:i]...)
		last = i + 1
		switch c {
		case quote, '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(dst, s[last:]...)
}

// End returns the first node after the subtree of node n: the descendants of
// n are the nodes n+1 .. End(n)-1.
func (d *Document) End(n int) int { return int(d.t.nodes[n].next) }

// Depth returns the nesting depth of node n: 0 for the root, 1 for its
// members or elements, and so on.
func (d *Document) Depth(n int) int {
	depth := 0
	for c := d.t.nodes[n].parent; c >= 0; c = d.t.nodes[c].parent {
		depth++
	}
	return depth
}

// IsMember reports whether node n is a member of an object (it has a name).
func (d *Document) IsMember(n int) bool { return d.t.nodes[n].keyEnd != 0 }

// AppendName appends the name of object member n, with its escapes decoded,
// to dst. For a node that is not an object member it returns dst unchanged.
func (d *Document) AppendName(dst []byte, n int) []byte {
	nd := &d.t.nodes[n]
	if nd.keyEnd == 0 {
		return dst
	}
	raw := d.src[nd.key:nd.keyEnd]
	if nd.flags&flagKeyEscaped == 0 {
		return append(dst, raw...)
	}
	return appendUnescaped(dst, raw)
}

// Count returns the number of elements of Array node n or of members of
// Object node n, and 0 for other kinds.
func (d *Document) Count(n int) int { return int(d.t.nodes[n].count) }

// Index returns the position of node n in the array that holds it, or -1 if
// n is the root or an object member.
func (d *Document) Index(n int) int {
	nd := &d.t.nodes[n]
	if nd.keyEnd != 0 || nd.parent < 0 {
		return -1
	}
	return int(nd.key)
}

// NameIs reports whether node n is an object member whose name, with its
// escapes decoded, is name. It does not allocate.
func (d *Document) NameIs(n int, name string) bool {
	return d.t.nameIs(d.src, &d.t.nodes[n], name)
}

// Member returns the member of Object node n whose name, with its escapes
// decoded, is name, or -1 if there is none (or n is not an object). Names are
// unique within an object: Scan refuses duplicates. It does not allocate.
func (d *Document) Member(n int, name string) int {
	nodes := d.t.nodes
	if nodes[n].kind != Object {
		return -1
	}
	for c, end := n+1, int(nodes[n].next); c < end; c = int(nodes[c].next) {
		nd := &nodes[c]
		if nd.flags&flagKeyEscaped != 0 {
			if unescapedIs(d.src[nd.key:nd.keyEnd], name, false) {
				return c
			}
		} else if int(nd.keyEnd-nd.key) == len(name) && string(d.src[nd.key:nd.keyEnd]) == name {
			return c
		}
	}
	return -1
}

func (t *tape) nameIs(src []byte, nd *node, name string) bool {
	if nd.flags&flagKeyEscaped == 0 {
		return nd.keyEnd != 0 && string(src[nd.key:nd.keyEnd]) == name
	}
	return unescapedIs(src[nd.key:nd.keyEnd], name, false)
}

// NextWithPrefix returns the first String node at or after n whose content,
// with its escapes decoded, begins with prefix, or Len() if there is none.
// It does not allocate.
func (d *Document) NextWithPrefix(n int, prefix string) int {
	nodes, src := d.t.nodes, d.src
	if prefix == "" {
		for ; n < len(nodes) && nodes[n].kind != String; n++ {
		}
		return min(n, len(nodes))
	}
	// Codec loops call this on every node of large documents: rule nodes
	// out by kind, length and first byte before looking further.
	first := prefix[0]
	for ; n < len(nodes); n++ {
		nd := &nodes[n]
		// An escape is never shorter than the text it stands for.
		if nd.kind != String || int(nd.end-nd.start) < len(prefix)+2 {
			continue
		}
		if c := src[nd.start+1]; c != first && c != '\\' {
			continue
		}
		raw := src[nd.start+1 : nd.end-1]
		if nd.flags&flagEscaped != 0 {
			if unescapedIs(raw, prefix, true) {
				return n
			}
		} else if string(raw[:len(prefix)]) == prefix {
			return n
		}
	}
	return len(nodes)
}

// unescapedIs reports whether raw, the validated content of a string with
// escapes, decodes to name, or with orPrefix to a text that begins with
// name.
func unescapedIs(raw []byte, name string, orPrefix bool) bool {
	// An escape is at least as long as the text it stands for.
	if len(raw) < len(name) {
		return false
	}
	var enc [utf8.UTFMax]byte
	for len(raw) > 0 {
		if orPrefix && name == "" {
			return true
		}
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			if orPrefix {
				return len(raw) >= len(name) && string(raw[:len(name)]) == name
			}
			return string(raw) == name
		}
		if len(name) < i {
			return orPrefix && string(raw[:len(name)]) == name
		}
		if string(raw[:i]) != name[:i] {
			return false
		}
		name = name[i:]
		var next []byte
		next, raw = appendEscape(enc[:0], raw[i+1:])
		if len(name) < len(next) {
			return orPrefix && string(next[:len(name)]) == name
		}
		if string(next) != name[:len(next)] {
			return false
		}
		name = name[len(next):]
	}
	return name == ""
}

// Source returns the input given to Scan, which the byte ranges of Raw
// index.
func (d *Document) Source() []byte { return d.src }
