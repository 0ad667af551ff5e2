package jsontape

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// Default limits, used where a field of Limits is zero.
const (
	DefaultMaxSize  = 4 << 20
	DefaultMaxDepth = 128
)

// Limits bound the resources a document may use. Zero (or negative) fields
// mean the default.
type Limits struct {
	// MaxSize is the largest accepted input, in bytes (DefaultMaxSize).
	// Values above math.MaxInt32 are treated as math.MaxInt32.
	MaxSize int
	// MaxDepth is the deepest accepted value (DefaultMaxDepth). The root
	// value is at depth 0, and the elements and member values of an array or
	// object at depth d are at depth d+1: so MaxDepth is the number of arrays
	// and objects that may enclose a value. With MaxDepth 1, [1] and [[]]
	// are accepted but [[1]] is not.
	MaxDepth int
}

func (l Limits) maxSize() int {
	if l.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return min(l.MaxSize, math.MaxInt32)
}

func (l Limits) maxDepth() int {
	if l.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return l.MaxDepth
}

// Kind is the JSON type of a value.
type Kind uint8

// The kinds of JSON values. The zero Kind is not a valid kind.
const (
	Null Kind = iota + 1
	False
	True
	Number
	String
	Object
	Array
)

// String returns the lower-case name of k, e.g. "object".
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case False:
		return "false"
	case True:
		return "true"
	case Number:
		return "number"
	case String:
		return "string"
	case Object:
		return "object"
	case Array:
		return "array"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// node is one value on the tape. Nodes are stored in document order (a
// pre-order walk), so the descendants of node n are exactly the nodes
// n+1 .. next-1, and a node's parent always precedes it.
type node struct {
	start, end int32 // the value's bytes: src[start:end]
	// For a member of an object, the name's bytes without the quotes are
	// src[key:keyEnd] (keyEnd > 0). For an element of an array, key is its
	// index and keyEnd is 0, as both are for the root.
	key, keyEnd int32
	parent      int32 // -1 for the root
	next        int32 // the first node after this value's subtree
	count       int32 // arrays and objects: number of children
	kind        Kind
	flags       uint8
}

const (
	flagEscaped    uint8 = 1 << iota // a String value holds a backslash escape
	flagKeyEscaped                   // an object member's name holds a backslash escape
)

// tape holds a document's nodes and the scratch space of Scan. Tapes are
// recycled through tapePool.
type tape struct {
	nodes []node
	stack []frame
	names nameSet
	buf1  []byte // scratch for decoding escaped names
	buf2  []byte
}

var tapePool = sync.Pool{New: func() any { return new(tape) }}

// Document is a validated JSON text and the tape of its values: every value
// (node) in document order, parents before children. Node 0 is the root.
//
// A Document refers to the input given to Scan, which must not be modified
// while the Document is in use. Its methods, except Release, only read and
// may run concurrently.
type Document struct {
	src []byte
	t   *tape
}

// Scan validates src as strict RFC 8259 JSON and builds its tape. It rejects
// invalid UTF-8 (including lone or misordered surrogate escapes), duplicate
// member names (compared after unescaping), values deeper than lim.MaxDepth
// and inputs longer than lim.MaxSize. Whitespace may surround the value.
// Numbers are checked against the grammar and never converted.
//
// Errors are of type *DocumentError and wrap ErrSyntax, ErrDuplicateName,
// ErrInvalidUTF8, ErrTooDeep or ErrTooLarge. The Document refers to src.
func Scan(src []byte, lim Limits) (*Document, error) {
	t, err := scanTape(src, lim)
	if err != nil {
		return nil, err
	}
	return &Document{src: src, t: t}, nil
}

// scanTape checks src and records its values on a tape from the pool.
func scanTape(src []byte, lim Limits) (*tape, error) {
	if maxSize := lim.maxSize(); len(src) > maxSize {
		return nil, &DocumentError{
			Offset: maxSize,
			Err:    fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), maxSize),
		}
	}
	t := tapePool.Get().(*tape)
	if cap(t.nodes) == 0 {
		// A rough guess of one value per 16 bytes; the tape grows as needed
		// and keeps its size when recycled.
		t.nodes = make([]node, 0, len(src)/16+16)
	}
	s := scanner{src: src, t: t, maxDepth: lim.maxDepth()}
	if err := s.run(); err != nil {
		t.release()
		return nil, err
	}
	return t, nil
}

// Valid reports whether src is a document Scan would accept, with the same
// errors, without keeping a Document. It does not allocate once warm.
func Valid(src []byte, lim Limits) error {
	t, err := scanTape(src, lim)
	if err != nil {
		return err
	}
	t.release()
	return nil
}

// Release returns the document's internal buffers for reuse by later calls to
// Scan. It is optional; the Document must not be used afterwards.
func (d *Document) Release() {
	if d.t != nil {
		d.t.release()
	}
	d.t = nil
}

func (t *tape) release() {
	t.nodes = t.nodes[:0]
	t.stack = t.stack[:0]
	t.names.reset()
	tapePool.Put(t)
}

// frame is an open array or object during Scan.
type frame struct {
	node int32
	// For objects, duplicate names are found by one of three means. While no
	// name has an escape, mask holds one bit per name (chosen by nameBit) and
	// a name whose bit is not yet set cannot be a duplicate. Otherwise, names
	// are compared with every earlier name (slow), until the object has
	// hashMin members; from then on it uses the scanner's hash set (hashed).
	// Once exact is set (slow or hashed), the mask no longer applies.
	mask   uint64
	exact  bool
	hashed bool
}

// hashMin is the number of members from which an object's names are kept in
// a hash set, so that objects with many members are scanned in linear time.
const hashMin = 32

type scanner struct {
	src      []byte
	t        *tape
	maxDepth int
}

// reason says why Scan rejects a document; see reasons.
type reason uint8

const (
	rOK reason = iota
	rEOF
	rValue
	rLiteral
	rNumber
	rTrailing
	rObjectSep
	rArraySep
	rName
	rColon
	rUnterminated
	rControl
	rEscape
	rSurrogate
	rUTF8
	rTooDeep
)

var reasons = [...]struct {
	err error
	msg string
}{
	rEOF:          {ErrSyntax, "unexpected end of input"},
	rValue:        {ErrSyntax, "expected a value"},
	rLiteral:      {ErrSyntax, "invalid literal"},
	rNumber:       {ErrSyntax, "invalid number"},
	rTrailing:     {ErrSyntax, "data after the top-level value"},
	rObjectSep:    {ErrSyntax, "expected ',' or '}'"},
	rArraySep:     {ErrSyntax, "expected ',' or ']'"},
	rName:         {ErrSyntax, "expected an object member name"},
	rColon:        {ErrSyntax, "expected ':' after an object member name"},
	rUnterminated: {ErrSyntax, "unterminated string"},
	rControl:      {ErrSyntax, "control character in string"},
	rEscape:       {ErrSyntax, "invalid escape in string"},
	rSurrogate:    {ErrInvalidUTF8, "unpaired UTF-16 surrogate escape"},
	rUTF8:         {ErrInvalidUTF8, ""},
	rTooDeep:      {ErrTooDeep, ""},
}

// run scans s.src into s.t.nodes. It is one loop rather than a recursive
// descent: the nesting is kept on s.t.stack, so deep input costs no Go stack.
// Reading a value, the separators after it and a member's name are three
// parts of the loop, joined by goto and continue, so that the common path
// makes no call but to scanString and scanNumber.
func (s *scanner) run() error {
	src := s.src
	n := len(src)
	nodes := s.t.nodes[:0]
	stack := s.t.stack[:0]
	defer func() {
		// Keep grown buffers for reuse, and let error paths see the nodes.
		s.t.nodes, s.t.stack = nodes, stack
	}()

	maxDepth := s.maxDepth
	i := skipSpace(src, 0)
	// Where the next value goes: its parent and, for an object member, its
	// name (src[key:keyEnd]) or, for an array element, its index (key).
	var (
		parent      int32 = -1
		key, keyEnd int32
		kflags      uint8
	)
values:
	for {
		// Read one value at src[i].
		idx := int32(len(nodes))
		if len(nodes) == cap(nodes) {
			nodes = slices.Grow(nodes, 1)
		}
		nodes = nodes[:idx+1]
		// Set the fields one by one: appending a node{...} literal built it
		// on the stack with narrow stores and copied it with wide loads,
		// which cannot be forwarded from those stores and stalled the loop.
		nd := &nodes[idx]
		nd.start, nd.end = int32(i), 0
		nd.key, nd.keyEnd = key, keyEnd
		nd.parent, nd.next, nd.count = parent, idx+1, 0
		nd.kind, nd.flags = 0, kflags
		if parent >= 0 {
			nodes[parent].count++
		}
		if len(stack) > maxDepth {
			return s.fail(nodes, i, rTooDeep, idx)
		}
		if i >= n {
			return s.fail(nodes, i, rEOF, idx)
		}
		switch c := src[i]; c {
		case '"':
			j, esc, r := scanString(src, i+1)
			if r != rOK {
				return s.fail(nodes, j, r, idx)
			}
			nd.kind, nd.end = String, int32(j)
			nd.flags |= esc
			i = j
		case '{', '[':
			nd.kind = Object
			closer := byte('}')
			if c == '[' {
				nd.kind, closer = Array, ']'
			}
			stack = append(stack, frame{node: idx})
			i = skipSpace(src, i+1)
			if i < n && src[i] == closer {
				i++
				nd.end = int32(i)
				stack = stack[:len(stack)-1]
				break
			}
			parent = idx
			if c == '[' {
				key, keyEnd, kflags = 0, 0, 0
				continue values
			}
			goto name
		case 't':
			if n-i < 4 || string(src[i:i+4]) != "true" {
				return s.fail(nodes, i, rLiteral, idx)
			}
			i += 4
			nd.kind, nd.end = True, int32(i)
		case 'f':
			if n-i < 5 || string(src[i:i+5]) != "false" {
				return s.fail(nodes, i, rLiteral, idx)
			}
			i += 5
			nd.kind, nd.end = False, int32(i)
		case 'n':
			if n-i < 4 || string(src[i:i+4]) != "null" {
				return s.fail(nodes, i, rLiteral, idx)
			}
			i += 4
			nd.kind, nd.end = Null, int32(i)
		default:
			if c != '-' && c-'0' > 9 {
				return s.fail(nodes, i, rValue, idx)
			}
			j, ok := scanNumber(src, i)
			if !ok {
				return s.fail(nodes, j, rNumber, idx)
			}
			i = j
			nd.kind, nd.end = Number, int32(i)
		}

		// A value is complete. Read separators and closing brackets until the
		// next value or member name begins, or the document ends.
		for {
			i = skipSpace(src, i)
			if len(stack) == 0 {
				if i != n {
					return s.fail(nodes, i, rTrailing, -1)
				}
				return nil
			}
			p := stack[len(stack)-1].node
			if i >= n {
				return s.fail(nodes, i, rEOF, p)
			}
			c := src[i]
			if c == ',' {
				i = skipSpace(src, i+1)
				parent = p
				if nodes[p].kind == Array {
					key, keyEnd, kflags = nodes[p].count, 0, 0
					continue values
				}
				break // a member name follows
			}
			if (c == '}' && nodes[p].kind == Object) || (c == ']' && nodes[p].kind == Array) {
				i++
				nodes[p].end = int32(i)
				nodes[p].next = int32(len(nodes))
				stack = stack[:len(stack)-1]
				continue
			}
			if nodes[p].kind == Object {
				return s.fail(nodes, i, rObjectSep, p)
			}
			return s.fail(nodes, i, rArraySep, p)
		}

	name:
		// An object member's name at src[i], then ':' and the value's
		// offset. The object (parent) is on top of the stack.
		{
			f := &stack[len(stack)-1]
			if i >= n || src[i] != '"' {
				return s.fail(nodes, i, rName, f.node)
			}
			j, esc, r := scanString(src, i+1)
			if r != rOK {
				return s.fail(nodes, j, r, f.node)
			}
			key, keyEnd, kflags = int32(i+1), int32(j-1), 0
			if esc != 0 {
				kflags = flagKeyEscaped
			}
			// Fast path: while an object is small and its names have no
			// escapes, a name whose bloom bit is not yet set is new.
			fast := false
			if esc == 0 && !f.exact && nodes[f.node].count < hashMin {
				bit := nameBit(src[key:keyEnd])
				fast = f.mask&bit == 0
				f.mask |= bit
			}
			if !fast && s.duplicate(nodes, f, key, keyEnd, esc != 0) {
				return s.duplicateError(nodes, f, i, key, keyEnd, esc != 0)
			}
			if j < n && src[j] == ':' {
				j++
			} else if j = skipSpace(src, j); j >= n || src[j] != ':' {
				return s.fail(nodes, j, rColon, f.node)
			} else {
				j++
			}
			i = skipSpace(src, j)
		}
	}
}

// duplicateError reports that object member name src[key:keyEnd] (raw,
// escaped if esc), at offset i, repeats a name of the object of frame f.
func (s *scanner) duplicateError(nodes []node, f *frame, i int, key, keyEnd int32, esc bool) error {
	src := s.src
	name := src[key:keyEnd]
	if esc {
		name = appendUnescaped(nil, name)
	}
	s.t.nodes = nodes
	ptr := appendPointerToken(append([]byte(s.t.pointer(src, f.node)), '/'), name)
	return &DocumentError{Offset: i, Pointer: string(ptr), Err: ErrDuplicateName}
}

// duplicate reports whether the object of frame f already has a member named
// src[key:keyEnd] (raw, escaped if esc), and records the name otherwise. The
// caller has tried the bloom mask (see frame) where it applies.
func (s *scanner) duplicate(nodes []node, f *frame, key, keyEnd int32, esc bool) bool {
	src := s.src
	obj := f.node
	name := src[key:keyEnd]
	if esc {
		f.exact = true
		s.t.buf2 = appendUnescaped(s.t.buf2[:0], name)
		name = s.t.buf2
	}
	end := int32(len(nodes))
	if f.hashed || nodes[obj].count >= hashMin {
		if !f.hashed {
			// Move the object's names so far into the hash set. They are
			// distinct: each was checked when it was read.
			f.hashed, f.exact = true, true
			for c := obj + 1; c < end; c = nodes[c].next {
				s.t.names.add(obj, c, s.nameOf(&nodes[c], &s.t.buf1))
			}
		}
		// The member's node will be appended next, at index end. The set
		// holds members of other objects too, whose hashes may collide.
		return s.t.names.addUnique(obj, end, name, func(c int32) bool {
			return nodes[c].parent == obj && bytes.Equal(s.nameOf(&nodes[c], &s.t.buf1), name)
		})
	}
	for c := obj + 1; c < end; c = nodes[c].next {
		if bytes.Equal(s.nameOf(&nodes[c], &s.t.buf1), name) {
			return true
		}
	}
	return false
}

// nameOf returns the decoded name of object member nd, using *buf as scratch
// space if the name has escapes.
func (s *scanner) nameOf(nd *node, buf *[]byte) []byte {
	raw := s.src[nd.key:nd.keyEnd]
	if nd.flags&flagKeyEscaped == 0 {
		return raw
	}
	*buf = appendUnescaped((*buf)[:0], raw)
	return *buf
}

// nameBit picks one of 64 bits for an unescaped name, from its length and
// its first and last bytes.
func nameBit(name []byte) uint64 {
	if len(name) == 0 {
		return 1
	}
	h := uint(len(name))*7 + uint(name[0])*3 + uint(name[len(name)-1])
	return 1 << (h & 63)
}

// nameSet is an open-addressing hash set of object members, keyed by the
// object's node and the member's decoded name; Scan uses it for objects with
// many members. The hash is seeded per process, so crafted names cannot force
// collisions.
type nameSet struct {
	slots []nameSlot
	n     int
}

type nameSlot struct {
	hash uint32
	node int32 // the member's node; 0 (the root, never a member) if free
}

var nameSeed = maphash.MakeSeed()

func (h *nameSet) reset() {
	if h.n > 0 {
		clear(h.slots)
		h.n = 0
	}
}

func nameHash(obj int32, name []byte) uint32 {
	x := maphash.Bytes(nameSeed, name) ^ uint64(obj)*0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= 0xbf58476d1ce4e5b9
	return uint32(x >> 32)
}

// add inserts member c of object obj, known not to be in the set yet.
func (h *nameSet) add(obj, c int32, name []byte) {
	h.addUnique(obj, c, name, func(int32) bool { return false })
}

// addUnique inserts member c of object obj unless a member of obj for which
// same returns true is already there; it reports whether one was.
func (h *nameSet) addUnique(obj, c int32, name []byte, same func(int32) bool) bool {
	if 2*(h.n+1) > len(h.slots) {
		h.grow()
	}
	hash := nameHash(obj, name)
	mask := uint32(len(h.slots) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		sl := &h.slots[i]
		if sl.node == 0 {
			sl.hash, sl.node = hash, c
			h.n++
			return false
		}
		if sl.hash == hash && same(sl.node) {
			return true
		}
	}
}

func (h *nameSet) grow() {
	old := h.slots
	h.slots = make([]nameSlot, max(64, 2*len(old)))
	mask := uint32(len(h.slots) - 1)
	for _, sl := range old {
		if sl.node == 0 {
			continue
		}
		i := sl.hash & mask
		for h.slots[i].node != 0 {
			i = (i + 1) & mask
		}
		h.slots[i] = sl
	}
}

// fail builds the *DocumentError for an error at offset off while reading the
// value of node loc (-1: outside the top-level value).
func (s *scanner) fail(nodes []node, off int, r reason, loc int32) error {
	s.t.nodes = nodes
	ptr := ""
	if loc >= 0 {
		ptr = s.t.pointer(s.src, loc)
	}
	err := reasons[r].err
	if msg := reasons[r].msg; msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return &DocumentError{Offset: off, Pointer: ptr, Err: err}
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(src []byte, i int) int {
	for i < len(src) && src[i] <= ' ' {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// plain marks the bytes that may appear in a string as themselves without
// further checks: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// special returns a word whose lowest set bit is the high bit of the first
// byte of x (in little-endian order) that is not plain, or 0 if all eight are
// plain. The usual "has a zero byte" tests can also mark bytes after the
// first match (by borrows), never before it.
func special(x uint64) uint64 {
	const ones = 0x0101010101010101
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((x-ones*0x20) & ^x | (q-ones) & ^q | (b-ones) & ^b | x) & (ones * 0x80)
}

// scanString scans a string whose opening quote is at src[i-1]. It returns
// the offset just past the closing quote and flagEscaped if the string holds
// an escape; on failure, the offset of the offending byte and a reason.
func scanString(src []byte, i int) (int, uint8, reason) {
	var esc uint8
	for {
		// Most bytes are plain ASCII; go through them eight at a time.
		for i+8 <= len(src) {
			if m := special(binary.LittleEndian.Uint64(src[i:])); m != 0 {
				// src[i] is not plain: no need to look it up.
				i += bits.TrailingZeros64(m) >> 3
				goto notPlain
			}
			i += 8
		}
		for i < len(src) && plain[src[i]] {
			i++
		}
		if i >= len(src) {
			return i, 0, rUnterminated
		}
	notPlain:
		switch c := src[i]; {
		case c == '"':
			return i + 1, esc, rOK
		case c == '\\':
			esc = flagEscaped
			if i+1 >= len(src) {
				return i, 0, rUnterminated
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r := hex4(src, i+2)
				switch {
				case r < 0:
					return i, 0, rEscape
				case r >= 0xd800 && r < 0xdc00:
					// A high surrogate must be followed by an escaped low one.
					if i+12 <= len(src) && src[i+6] == '\\' && src[i+7] == 'u' {
						if lo := hex4(src, i+8); lo >= 0xdc00 && lo < 0xe000 {
							i += 12
							continue
						}
					}
					return i, 0, rSurrogate
				case r >= 0xdc00 && r < 0xe000:
					return i, 0, rSurrogate
				}
				i += 6
			default:
				return i, 0, rEscape
			}
		case c < 0x20:
			return i, 0, rControl
		default:
			// Non-ASCII: DecodeRune rejects overlong forms, surrogates and
			// values above U+10FFFF.
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				return i, 0, rUTF8
			}
			i += size
		}
	}
}

// hex4 returns the value of the four hex digits at src[i:], or -1.
func hex4(src []byte, i int) rune {
	if i+4 > len(src) {
		return -1
	}
	var r rune
	for _, c := range src[i : i+4] {
		var v byte
		switch {
		case c-'0' < 10:
			v = c - '0'
		case c|0x20-'a' < 6:
			v = c | 0x20 - 'a' + 10
		default:
			return -1
		}
		r = r<<4 | rune(v)
	}
	return r
}

// scanNumber checks the number at src[i:] against the RFC 8259 grammar. It
// returns the offset just past it, or the offset of the offending byte and
// false.
func scanNumber(src []byte, i int) (int, bool) {
	n := len(src)
	if src[i] == '-' {
		i++
	}
	switch {
	case i < n && src[i] == '0':
		i++
	case i < n && src[i]-'1' < 9:
		i++
		for i < n && src[i]-'0' < 10 {
			i++
		}
	default:
		return i, false
	}
	if i < n && src[i] == '.' {
		i++
		if i >= n || src[i]-'0' > 9 {
			return i, false
		}
		for i < n && src[i]-'0' < 10 {
			i++
		}
	}
	if i < n && src[i]|0x20 == 'e' {
		i++
		if i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= n || src[i]-'0' > 9 {
			return i, false
		}
		for i < n && src[i]-'0' < 10 {
			i++
		}
	}
	return i, true
}

// appendUnescaped appends the decoded content of raw, the bytes between the
// quotes of a string that Scan has validated.
func appendUnescaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		dst, raw = appendEscape(dst, raw[i+1:])
	}
	return dst
}

// appendEscape appends the text of the escape whose backslash precedes
// raw, and returns raw after the escape. Scan has validated the escape.
func appendEscape(dst, raw []byte) ([]byte, []byte) {
	c := raw[0]
	raw = raw[1:]
	switch c {
	case 'b':
		dst = append(dst, '\b')
	case 'f':
		dst = append(dst, '\f')
	case 'n':
		dst = append(dst, '\n')
	case 'r':
		dst = append(dst, '\r')
	case 't':
		dst = append(dst, '\t')
	case 'u':
		r := hex4(raw, 0)
		raw = raw[4:]
		if r >= 0xd800 && r < 0xdc00 {
			// Scan has checked that a low surrogate escape follows.
			r = utf16Pair(r, hex4(raw, 2))
			raw = raw[6:]
		}
		dst = utf8.AppendRune(dst, r)
	default: // '"', '\\', '/'
		dst = append(dst, c)
	}
	return dst, raw
}

func utf16Pair(hi, lo rune) rune {
	return 0x10000 + (hi-0xd800)<<10 + (lo - 0xdc00)
}
